package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pairflow/pairflow/internal/atomicfile"
	"github.com/pairflow/pairflow/internal/filelock"
	"github.com/pairflow/pairflow/internal/inputfile"
)

const (
	resultsName    = "results.json"
	tableName      = "table.md"
	resultsVersion = 1
)

// Results is results.json: one entry per method (table row), in the order
// they were first written.
type Results struct {
	Version int `json:"version"`
	// TestRecords is the size of the test split of the latest run.
	TestRecords int       `json:"test_records"`
	Methods     []*Method `json:"methods"`
}

// Method is one row: how it was run and its cells.
type Method struct {
	Name     string         `json:"name"`
	Mode     string         `json:"mode"`    // linear or finetune
	Encoder  string         `json:"encoder"` // checkpoint path, or "random-init <model>"
	Train    string         `json:"train"`
	Test     string         `json:"test"`
	Settings map[string]any `json:"settings"`
	Cells    []Cell         `json:"cells"` // by fraction
}

// Cell is one label fraction: its runs (one per subset seed) and their mean
// and sample standard deviation (0 for one run), in %.
type Cell struct {
	Fraction float64 `json:"fraction"`
	Runs     []Run   `json:"runs"`
	Top1Mean float64 `json:"top1_mean"`
	Top1Std  float64 `json:"top1_std"`
	Top5Mean float64 `json:"top5_mean"`
	Top5Std  float64 `json:"top5_std"`
}

// Run is one (fraction, seed) training and evaluation.
type Run struct {
	Seed      uint64  `json:"seed"`
	Subset    int     `json:"subset"`     // labelled records used
	SubsetFNV string  `json:"subset_fnv"` // FNV-64a of the subset's indices (int64 little-endian)
	Top1      float64 `json:"top1"`       // %
	Top5      float64 `json:"top5"`       // %
	Loss      float64 `json:"final_loss"` // last pass's mean (linear) or last step's (finetune)
	Steps     int64   `json:"steps"`
	Seconds   float64 `json:"seconds"`
}

func (c *Cell) summarize() {
	t1 := make([]float64, len(c.Runs))
	t5 := make([]float64, len(c.Runs))
	for i, r := range c.Runs {
		t1[i], t5[i] = r.Top1, r.Top5
	}
	c.Top1Mean, c.Top1Std = meanStd(t1)
	c.Top5Mean, c.Top5Std = meanStd(t5)
}

// meanStd returns the mean and the sample standard deviation (n − 1; 0 for
// fewer than two values).
func meanStd(v []float64) (float64, float64) {
	if len(v) == 0 {
		return 0, 0
	}
	var s float64
	for _, x := range v {
		s += x
	}
	m := s / float64(len(v))
	if len(v) < 2 {
		return m, 0
	}
	var q float64
	for _, x := range v {
		q += (x - m) * (x - m)
	}
	return m, math.Sqrt(q / float64(len(v)-1))
}

func subsetHash(sub []int64) string {
	h := fnv.New64a()
	var b [8]byte
	for _, i := range sub {
		binary.LittleEndian.PutUint64(b[:], uint64(i))
		h.Write(b[:])
	}
	return fmt.Sprintf("%016x", h.Sum64())
}

func (s *setup) newMethod() *Method {
	o := s.o
	m := &Method{Name: o.method, Mode: o.mode, Train: o.train, Test: o.test}
	if o.encoder != "" {
		m.Encoder = o.encoder
	} else {
		m.Encoder = fmt.Sprintf("random-init %s (seed %d)", s.model, o.initSeed)
	}
	set := map[string]any{
		"model": s.model, "channels": s.channels, "size": s.size, "classes": s.classes,
		"mean": s.mean, "std": s.std, "seeds": o.seeds,
	}
	if o.mode == "linear" {
		set["optimizer"], set["lr"], set["weight_decay"] = "adam", o.linLR, o.linWD
		set["passes"], set["batch"] = o.passes, o.linBatch
		set["features"] = "eval view, BatchNorm eval mode, standardised by the subset's mean and unbiased std"
	} else {
		set["optimizer"], set["lr"], set["weight_decay"] = "adam", o.ftLR, o.ftWD
		set["steps"], set["batch"], set["schedule"] = o.steps, o.ftBatch, "cosine to 0, no warm-up"
		set["crop_scale"] = o.cropScale
		set["recipe"] = json.RawMessage(s.trainRecipe())
	}
	m.Settings = set
	return m
}

// readResults reads dir/results.json; a missing file gives empty Results.
func readResults(dir string) (*Results, error) {
	res, err := readResultsFile(filepath.Join(dir, resultsName))
	if errors.Is(err, fs.ErrNotExist) {
		return &Results{Version: resultsVersion}, nil
	}
	return res, err
}

// readResultsFile reads one results.json of this lineval's version.
func readResultsFile(path string) (*Results, error) {
	res := &Results{Version: resultsVersion}
	b, err := inputfile.ReadFile(path, inputfile.MaxJSONBytes)
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(res); err != nil {
		return nil, fmt.Errorf("%s: cannot merge with it: %w (move it away to start afresh)", path, err)
	}
	if res.Version != resultsVersion {
		return nil, fmt.Errorf("%s: version %d, this lineval writes %d (move it away to start afresh)", path, res.Version, resultsVersion)
	}
	return res, nil
}

// writeResults merges m into dir/results.json (see merge) and rewrites
// dir/table.md.
func writeResults(dir string, m *Method, testRecords int) (*Results, error) {
	return updateResults(dir, func(res *Results) error {
		res.TestRecords = testRecords
		merge(res, m)
		return nil
	})
}

// updateResults applies change to dir/results.json and rewrites it and
// dir/table.md. Invocations sharing dir take turns through a lock file.
func updateResults(dir string, change func(*Results) error) (*Results, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	res, err := readResults(dir)
	if err != nil {
		return nil, err
	}
	if err := change(res); err != nil {
		return nil, err
	}
	out, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return nil, err
	}
	// Written atomically and durably: a crash leaves the old file or the
	// new one (see package atomicfile).
	if err := atomicfile.WriteFile(filepath.Join(dir, resultsName), append(out, '\n'), 0o644); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, tableName), []byte(renderTable(res)), 0o644); err != nil {
		return nil, err
	}
	return res, nil
}

// mergeFiles merges the methods of the results.json files into
// dir/results.json, in order, by merge's rules, and rewrites dir/table.md.
// Every file must be this lineval's version and about the same number of
// test images as dir's.
func mergeFiles(dir string, files []string) (*Results, error) {
	var ins []*Results
	for _, f := range files {
		in, err := readResultsFile(f)
		if err != nil {
			return nil, err
		}
		ins = append(ins, in)
	}
	return updateResults(dir, func(res *Results) error {
		for i, in := range ins {
			if res.TestRecords != 0 && in.TestRecords != 0 && in.TestRecords != res.TestRecords {
				return fmt.Errorf("%s: evaluated on %d test images, %s on %d: not one table",
					files[i], in.TestRecords, filepath.Join(dir, resultsName), res.TestRecords)
			}
			if res.TestRecords == 0 {
				res.TestRecords = in.TestRecords
			}
			for _, m := range in.Methods {
				merge(res, m)
			}
		}
		return nil
	})
}

// lockDir takes dir's lock (results.lock, internal/filelock: it dies with
// its holder), waiting up to a minute for another invocation.
func lockDir(dir string) (unlock func(), err error) {
	path := filepath.Join(dir, "results.lock")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := filelock.Acquire(ctx, path)
	if errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("%s: another lineval has held it for over a minute", path)
	}
	if err != nil {
		return nil, err
	}
	return func() { l.Remove() }, nil
}

// merge puts m into res. A method of another name is added. For a method of
// the same name, m's cells replace the old cells of their fractions, except
// that when the old method ran the same way (mode, encoder, splits and
// settings other than the seeds) the old cell's runs of seeds m did not run
// are kept: a later invocation with more subset seeds adds to a cell rather
// than replacing it (settings' "seeds" becomes the union).
func merge(res *Results, m *Method) {
	i := slices.IndexFunc(res.Methods, func(x *Method) bool { return x.Name == m.Name })
	if i < 0 {
		res.Methods = append(res.Methods, m)
		return
	}
	old := res.Methods[i]
	same := sameRunSettings(old, m)
	cells := m.Cells
	for _, c := range old.Cells {
		j := slices.IndexFunc(cells, func(x Cell) bool { return x.Fraction == c.Fraction })
		switch {
		case j < 0:
			cells = append(cells, c)
		case same:
			for _, r := range c.Runs {
				if !slices.ContainsFunc(cells[j].Runs, func(x Run) bool { return x.Seed == r.Seed }) {
					cells[j].Runs = append(cells[j].Runs, r)
				}
			}
			slices.SortFunc(cells[j].Runs, func(a, b Run) int { return cmp.Compare(a.Seed, b.Seed) })
			cells[j].summarize()
		}
	}
	slices.SortFunc(cells, func(a, b Cell) int { return cmp.Compare(a.Fraction, b.Fraction) })
	m.Cells = cells
	if same && m.Settings != nil {
		m.Settings["seeds"] = seedUnion(old.Settings["seeds"], m.Settings["seeds"])
	}
	res.Methods[i] = m
}

// sameRunSettings reports whether a and b ran the same way but for their
// subset seeds. Settings are compared in canonical JSON, since one of them
// was read back from results.json.
func sameRunSettings(a, b *Method) bool {
	if a.Mode != b.Mode || a.Encoder != b.Encoder || a.Train != b.Train || a.Test != b.Test {
		return false
	}
	ca, errA := canonicalSettings(a.Settings)
	cb, errB := canonicalSettings(b.Settings)
	return errA == nil && errB == nil && bytes.Equal(ca, cb)
}

func canonicalSettings(set map[string]any) ([]byte, error) {
	rest := maps.Clone(set)
	delete(rest, "seeds")
	b, err := json.Marshal(rest)
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	return json.Marshal(v) // maps' keys sorted, nested ones too
}

// seedUnion is the sorted union of two "seeds" settings (lists of seeds,
// as this lineval writes them or as read back from JSON).
func seedUnion(a, b any) []uint64 {
	var out []uint64
	for _, v := range []any{a, b} {
		switch s := v.(type) {
		case []uint64:
			out = append(out, s...)
		case []any:
			for _, x := range s {
				if f, ok := x.(float64); ok && f >= 0 && f == math.Trunc(f) {
					out = append(out, uint64(f))
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// renderTable makes table.md: top-1 and top-5 (%) per method and fraction,
// mean ± sample std over the subset seeds.
func renderTable(res *Results) string {
	var fracs []float64
	for _, m := range res.Methods {
		for _, c := range m.Cells {
			if !slices.Contains(fracs, c.Fraction) {
				fracs = append(fracs, c.Fraction)
			}
		}
	}
	slices.Sort(fracs)
	var b strings.Builder
	for _, which := range []string{"Top-1", "Top-5"} {
		fmt.Fprintf(&b, "| method (%s %%) |", which)
		for _, f := range fracs {
			fmt.Fprintf(&b, " %s%% labels |", strconv.FormatFloat(f*100, 'g', -1, 64))
		}
		b.WriteString("\n|---|")
		for range fracs {
			b.WriteString("---|")
		}
		b.WriteString("\n")
		for _, m := range res.Methods {
			fmt.Fprintf(&b, "| %s |", m.Name)
			for _, f := range fracs {
				i := slices.IndexFunc(m.Cells, func(c Cell) bool { return c.Fraction == f })
				if i < 0 {
					b.WriteString(" — |")
					continue
				}
				c := m.Cells[i]
				mean, std := c.Top1Mean, c.Top1Std
				if which == "Top-5" {
					mean, std = c.Top5Mean, c.Top5Std
				}
				if len(c.Runs) > 1 {
					fmt.Fprintf(&b, " %.1f ± %.1f |", mean, std)
				} else {
					fmt.Fprintf(&b, " %.1f |", mean)
				}
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "Accuracy %% on the %d test images; ± is the sample standard deviation over the label-subset seeds "+
		"(cells without ± ran one seed). Per-run numbers, subsets and settings: %s.\n", res.TestRecords, resultsName)
	return b.String()
}
