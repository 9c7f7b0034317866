// Package progress is the one progress reporter of pairflow's long-running
// commands (shardify pack, pretrain, lineval, pairstream): a single-line bar
// with rate and ETA redrawn in place when the output is a terminal, plain
// log lines otherwise. Counters may be updated from any goroutine while the
// reporting goroutine reads them, so they are atomic.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sourcegraph/conc"
)

// Options configure a Meter.
type Options struct {
	// Name prefixes the plain log lines ("shardify: …").
	Name string
	// Unit names what is counted ("records", "steps", "batches"); Rate is
	// its short form in the rate ("rec" gives "rec/s"). Defaults: "items",
	// and Unit.
	Unit, Rate string
	// Total is the number of units to do, or -1 when unknown; TotalBytes
	// the input bytes, or -1. They drive the percentage and the ETA: units
	// when known, else bytes. Input bytes are shown only when TotalBytes is
	// not 0.
	Total, TotalBytes int64
	// Done is the number of units done before Start (a resumed run): they
	// count towards Total but not in the rate.
	Done int64
	// TTY selects the bar redrawn in place (see IsTerminal and ForFile).
	TTY bool
	// Interval between reports; 0 picks 250 ms on a terminal and 5 s
	// otherwise.
	Interval time.Duration
}

// Meter counts units and bytes and prints progress every Interval.
type Meter struct {
	out        io.Writer
	name       string
	unit, rate string
	tty        bool
	interval   time.Duration
	total      int64 // units, or -1
	totalBytes int64 // input bytes, or -1
	base       int64 // units done before Start
	start      time.Time
	now        func() time.Time

	records, skipped, bytesIn atomic.Int64
	status                    atomic.Pointer[string]

	mu   sync.Mutex // serialises printing
	stop chan struct{}
	wg   conc.WaitGroup
	last int // width of the last bar line
}

// New returns a Meter writing to out.
func New(out io.Writer, o Options) *Meter {
	if o.Interval <= 0 {
		o.Interval = 5 * time.Second
		if o.TTY {
			o.Interval = 250 * time.Millisecond
		}
	}
	if o.Unit == "" {
		o.Unit = "items"
	}
	if o.Rate == "" {
		o.Rate = o.Unit
	}
	return &Meter{out: out, name: o.Name, unit: o.Unit, rate: o.Rate, tty: o.TTY, interval: o.Interval,
		total: o.Total, totalBytes: o.TotalBytes, base: o.Done, now: time.Now}
}

// ForFile reports whether w is an *os.File that is a terminal: the TTY
// option for a command's stderr.
func ForFile(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && IsTerminal(f)
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
	m.clearBar()
}

// Add counts one unit: done or skipped, with its input bytes.
func (m *Meter) Add(skipped bool, in int64) {
	if skipped {
		m.skipped.Add(1)
	} else {
		m.records.Add(1)
	}
	m.bytesIn.Add(in)
}

// AddN counts n units done.
func (m *Meter) AddN(n int64) { m.records.Add(n) }

// SetStatus sets a short text shown after the counts (say, the last loss);
// "" shows none.
func (m *Meter) SetStatus(s string) { m.status.Store(&s) }

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
	m.clearBar()
	fmt.Fprintf(m.out, format+"\n", args...)
}

// clearBar blanks the bar line on a terminal so that what is printed next
// starts on a clean line. m.mu must be held.
func (m *Meter) clearBar() {
	if m.tty && m.last > 0 {
		fmt.Fprintf(m.out, "\r%s\r", strings.Repeat(" ", m.last))
		m.last = 0
	}
}

// Line returns the current progress text (no bar).
func (m *Meter) Line() string {
	el := m.Elapsed().Seconds()
	n, sk, in := m.records.Load(), m.skipped.Load(), m.bytesIn.Load()
	var rate, mbs float64
	if el > 0 {
		rate, mbs = float64(n+sk)/el, float64(in)/el/1e6
	}
	done := m.base + n + sk
	var b strings.Builder
	frac := m.fraction()
	if m.total >= 0 {
		fmt.Fprintf(&b, "%d/%d %s", done, m.total, m.unit)
	} else {
		fmt.Fprintf(&b, "%d %s", done, m.unit)
	}
	if frac >= 0 {
		fmt.Fprintf(&b, " (%.1f%%)", 100*frac)
	}
	if rate >= 10 || rate == 0 {
		fmt.Fprintf(&b, "  %.0f %s/s", rate, m.rate)
	} else {
		fmt.Fprintf(&b, "  %.2f %s/s", rate, m.rate)
	}
	if m.totalBytes != 0 {
		fmt.Fprintf(&b, "  %.1f MB/s in", mbs)
	}
	if sk > 0 {
		fmt.Fprintf(&b, "  %d skipped", sk)
	}
	if st := m.status.Load(); st != nil && *st != "" {
		fmt.Fprintf(&b, "  %s", *st)
	}
	switch {
	case m.total > 0 && frac < 1 && rate > 0:
		fmt.Fprintf(&b, "  ETA %s", FormatDuration(time.Duration(float64(m.total-done)/rate*float64(time.Second))))
	case m.total < 0 && frac > 0 && frac < 1 && el > 0:
		fmt.Fprintf(&b, "  ETA %s", FormatDuration(time.Duration(el/frac*(1-frac)*float64(time.Second))))
	}
	return b.String()
}

// fraction returns the share done, by records when their total is known,
// else by bytes, or -1.
func (m *Meter) fraction() float64 {
	switch {
	case m.total > 0:
		return min(1, float64(m.base+m.records.Load()+m.skipped.Load())/float64(m.total))
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
		fmt.Fprintf(m.out, "%s: %s\n", m.name, line)
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
