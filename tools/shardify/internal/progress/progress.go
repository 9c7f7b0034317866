// Package progress reports how a long pack is going: a single-line bar
// redrawn in place when the output is a terminal, plain log lines
// otherwise. Counters are updated from one goroutine and read by the
// reporting goroutine, so they are atomic.
package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sourcegraph/conc"
)

// Meter counts records and bytes and prints progress every Interval.
type Meter struct {
	out        io.Writer
	tty        bool
	interval   time.Duration
	total      int64 // records, or -1
	totalBytes int64 // input bytes, or -1
	start      time.Time
	now        func() time.Time

	records, skipped, bytesIn atomic.Int64

	mu   sync.Mutex // serialises printing
	stop chan struct{}
	wg   conc.WaitGroup
	last int // width of the last bar line
}

// New returns a Meter writing to out. total and totalBytes (-1 when unknown)
// drive the percentage and ETA: records when known, else bytes. interval
// 0 picks 250 ms on a terminal and 5 s otherwise.
func New(out io.Writer, tty bool, total, totalBytes int64, interval time.Duration) *Meter {
	if interval <= 0 {
		interval = 5 * time.Second
		if tty {
			interval = 250 * time.Millisecond
		}
	}
	return &Meter{out: out, tty: tty, interval: interval, total: total, totalBytes: totalBytes, now: time.Now}
}

// Start begins periodic reports; Stop ends them.
func (m *Meter) Start() {
	m.start = m.now()
	m.stop = make(chan struct{})
	m.wg.Go(func() {
		t := time.NewTicker(m.interval)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				m.Print()
			}
		}
	})
}

// Stop ends periodic reports and clears the bar line.
func (m *Meter) Stop() {
	if m.stop == nil {
		return
	}
	close(m.stop)
	m.wg.Wait()
	m.stop = nil
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tty && m.last > 0 {
		fmt.Fprintf(m.out, "\r%s\r", strings.Repeat(" ", m.last))
		m.last = 0
	}
}

// Add counts one item: written or skipped, with its input bytes.
func (m *Meter) Add(skipped bool, in int64) {
	if skipped {
		m.skipped.Add(1)
	} else {
		m.records.Add(1)
	}
	m.bytesIn.Add(in)
}

// Records, Skipped and BytesIn return the counters.
func (m *Meter) Records() int64 { return m.records.Load() }
func (m *Meter) Skipped() int64 { return m.skipped.Load() }
func (m *Meter) BytesIn() int64 { return m.bytesIn.Load() }

// Elapsed returns the time since Start.
func (m *Meter) Elapsed() time.Duration { return m.now().Sub(m.start) }

// Warn prints a message on its own line without garbling the bar.
func (m *Meter) Warn(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tty && m.last > 0 {
		fmt.Fprintf(m.out, "\r%s\r", strings.Repeat(" ", m.last))
		m.last = 0
	}
	fmt.Fprintf(m.out, format+"\n", args...)
}

// Line returns the current progress text (no bar).
func (m *Meter) Line() string {
	el := m.Elapsed().Seconds()
	n, sk, in := m.records.Load(), m.skipped.Load(), m.bytesIn.Load()
	done := n + sk
	var rate, mbs float64
	if el > 0 {
		rate, mbs = float64(done)/el, float64(in)/el/1e6
	}
	var b strings.Builder
	frac := m.fraction()
	if m.total >= 0 {
		fmt.Fprintf(&b, "%d/%d records", done, m.total)
	} else {
		fmt.Fprintf(&b, "%d records", done)
	}
	if frac >= 0 {
		fmt.Fprintf(&b, " (%.1f%%)", 100*frac)
	}
	fmt.Fprintf(&b, "  %.0f rec/s  %.1f MB/s in", rate, mbs)
	if sk > 0 {
		fmt.Fprintf(&b, "  %d skipped", sk)
	}
	if frac > 0 && frac < 1 && el > 0 {
		fmt.Fprintf(&b, "  ETA %s", FormatDuration(time.Duration(el/frac*(1-frac)*float64(time.Second))))
	}
	return b.String()
}

// fraction returns the share done, by records when their total is known,
// else by bytes, or -1.
func (m *Meter) fraction() float64 {
	switch {
	case m.total > 0:
		return min(1, float64(m.records.Load()+m.skipped.Load())/float64(m.total))
	case m.total == 0:
		return 1
	case m.totalBytes > 0:
		return min(1, float64(m.bytesIn.Load())/float64(m.totalBytes))
	}
	return -1
}

// Print writes one report: the bar redrawn in place on a terminal, a log
// line otherwise.
func (m *Meter) Print() {
	line := m.Line()
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.tty {
		fmt.Fprintf(m.out, "shardify: %s\n", line)
		return
	}
	const width = 24
	bar := ""
	if f := m.fraction(); f >= 0 {
		k := int(f * width)
		bar = "[" + strings.Repeat("#", k) + strings.Repeat(".", width-k) + "] "
	}
	s := bar + line
	pad := ""
	if m.last > len(s) {
		pad = strings.Repeat(" ", m.last-len(s))
	}
	fmt.Fprintf(m.out, "\r%s%s", s, pad)
	m.last = len(s)
}

// FormatDuration prints d as h:mm:ss or m:ss.
func FormatDuration(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// Bytes prints n with a binary-free decimal unit (kB, MB, GB).
func Bytes(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
