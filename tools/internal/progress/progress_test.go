package progress

import (
	"bytes"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestLineAndETA(t *testing.T) {
	var buf bytes.Buffer
	m := New(&buf, Options{Name: "shardify", Unit: "records", Rate: "rec", Total: 100, TotalBytes: -1, Interval: time.Hour})
	now := time.Unix(1000, 0)
	m.now = func() time.Time { return now }
	m.Start()
	for i := 0; i < 25; i++ {
		m.Add(i == 3, 2e6)
	}
	now = now.Add(10 * time.Second)
	line := m.Line()
	for _, want := range []string{"25/100 records", "(25.0%)", "2.50 rec/s", "5.0 MB/s in", "1 skipped", "ETA 0:30"} {
		if !strings.Contains(line, want) {
			t.Errorf("line %q lacks %q", line, want)
		}
	}
	m.Print()
	m.Stop()
	if !strings.HasPrefix(buf.String(), "shardify: 25/100 records") || strings.Contains(buf.String(), "\r") {
		t.Errorf("plain output %q", buf.String())
	}
}

func TestTerminalBar(t *testing.T) {
	var buf bytes.Buffer
	m := New(&buf, Options{Name: "shardify", Unit: "records", Rate: "rec", TTY: true, Total: -1, TotalBytes: 1000, Interval: time.Hour})
	m.Start()
	m.Add(false, 500)
	m.Print()
	m.Warn("shardify: skipped %s", "x.png")
	m.Stop()
	s := buf.String()
	if !strings.Contains(s, "\r[############............] 1 records (50.0%)") || !strings.Contains(s, "skipped x.png\n") {
		t.Errorf("terminal output %q", s)
	}
	if FormatDuration(3725*time.Second) != "1:02:05" || Bytes(1536) != "1.5 kB" {
		t.Error("formatting")
	}
}

func TestStepsStatus(t *testing.T) {
	var buf bytes.Buffer
	m := New(&buf, Options{Name: "pretrain", Unit: "steps", Total: 500, Done: 100, Interval: time.Hour})
	now := time.Unix(1000, 0)
	m.now = func() time.Time { return now }
	m.Start()
	m.AddN(100)
	m.SetStatus("epoch 2/8  loss 4.1234")
	now = now.Add(4 * time.Second)
	m.Print()
	m.Stop()
	want := "pretrain: 200/500 steps (40.0%)  25 steps/s  epoch 2/8  loss 4.1234  ETA 0:12\n"
	if buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}

func TestIsTerminal(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	if runtime.GOOS == "linux" && IsTerminal(f) {
		t.Error("/dev/null taken for a terminal")
	}
}
