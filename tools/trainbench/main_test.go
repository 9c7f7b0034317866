package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/pairflow/pairflow/tools/internal/cli/clitest"
)

func TestUsage(t *testing.T) {
	clitest.Usage(t, "trainbench", "Usage: trainbench", func(a []string, o, e *bytes.Buffer) int { return run(a, o, e) },
		[]string{"-opt", "rmsprop"}, []string{"-encoder", "vit"}, []string{"-threads", "0"},
		[]string{"-bogus"}, []string{"-batch", "x"}, []string{"-clock", "x"}, []string{"extra"})
}

// TestSmallStep runs one tiny measured step end to end; -json replaces its
// file whole (a temporary file renamed into place); -cpuprofile and
// -memprofile write profiles; on Linux the peak resident memory is
// reported.
func TestSmallStep(t *testing.T) {
	var out, errOut bytes.Buffer
	js := filepath.Join(t.TempDir(), "bench.json")
	replaced := clitest.Replaced(t, js)
	prof := filepath.Join(t.TempDir(), "cpu.prof")
	mprof := filepath.Join(t.TempDir(), "mem.prof")
	if code := run([]string{"-batch", "4", "-steps", "1", "-warmup", "1", "-threads", "1", "-no-forward", "-json", js, "-cpuprofile", prof, "-memprofile", mprof}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	replaced()
	// A pprof profile is a gzip stream.
	for flag, p := range map[string]string{"-cpuprofile": prof, "-memprofile": mprof} {
		if b, err := os.ReadFile(p); err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
			t.Errorf("%s wrote %d bytes (%v), want a gzipped profile", flag, len(b), err)
		}
	}
	var res struct {
		Train struct {
			StepS []float64 `json:"step_s"`
		} `json:"train"`
		PeakRSSkB int64 `json:"peak_rss_kB"`
	}
	if b, err := os.ReadFile(js); err != nil || json.Unmarshal(b, &res) != nil || len(res.Train.StepS) != 1 {
		t.Errorf("-json wrote %q (%v)", b, err)
	}
	if runtime.GOOS == "linux" {
		if res.PeakRSSkB <= 0 || !strings.Contains(out.String(), "peak resident memory") {
			t.Errorf("peak RSS %d kB in -json; output:\n%s", res.PeakRSSkB, out.String())
		}
	}
	for _, want := range []string{"pairflow trainbench: smallcnn", "images/s", "conv"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
