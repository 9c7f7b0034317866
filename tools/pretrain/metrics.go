package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/pairflow/pairflow/internal/atomicfile"
	"github.com/pairflow/pairflow/internal/inputfile"
)

// writeMetrics rewrites metrics.csv with rows (atomically and durably).
func writeMetrics(path string, rows []epochRow) error {
	var b strings.Builder
	b.WriteString(metricsHeader + "\n")
	for _, r := range rows {
		b.WriteString(r.csv() + "\n")
	}
	return atomicfile.WriteFile(path, []byte(b.String()), 0o644)
}

// readMetrics reads the rows of metrics.csv up to epoch last (a resumed run
// drops the rows of epochs it redoes).
func readMetrics(path string, last int) ([]epochRow, error) {
	b, err := inputfile.ReadFile(path, inputfile.MaxJSONBytes)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rows []epochRow
	sc := bufio.NewScanner(bytes.NewReader(b))
	line := 0
	for sc.Scan() {
		line++
		if line == 1 {
			if sc.Text() != metricsHeader {
				return nil, fmt.Errorf("%s: header %q, want %q", path, sc.Text(), metricsHeader)
			}
			continue
		}
		r, err := parseRow(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, line, err)
		}
		if r.Epoch <= last {
			rows = append(rows, r)
		}
	}
	return rows, sc.Err()
}

func parseRow(s string) (epochRow, error) {
	f := strings.Split(s, ",")
	if len(f) != 9 {
		return epochRow{}, fmt.Errorf("%d fields, want 9", len(f))
	}
	var err error
	num := func(i int) float64 {
		if f[i] == "" || f[i] == "NaN" {
			return math.NaN()
		}
		v, e := strconv.ParseFloat(f[i], 64)
		if e != nil && err == nil {
			err = fmt.Errorf("field %d: %w", i+1, e)
		}
		return v
	}
	r := epochRow{Epoch: int(num(0)), Steps: int64(num(1)), Loss: num(2), Accuracy: num(3), LR: num(4),
		ImagesPS: num(5), DataWait: num(6), KNN: num(7), TrainSecs: num(8)}
	return r, err
}

// dataWaitShare is the share of training time spent waiting for batches
// over the rows' epochs, weighted by each epoch's time.
func dataWaitShare(rows []epochRow) float64 {
	var wait, total, prev float64
	for _, r := range rows {
		if r.Epoch == 0 {
			continue
		}
		dt := r.TrainSecs - prev
		prev = r.TrainSecs
		wait += r.DataWait * dt
		total += dt
	}
	if total == 0 {
		return math.NaN()
	}
	return wait / total
}
