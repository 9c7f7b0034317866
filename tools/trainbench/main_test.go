package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
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
// file whole (a temporary file renamed into place); -cpuprofile writes a
// profile.
func TestSmallStep(t *testing.T) {
	var out, errOut bytes.Buffer
	js := filepath.Join(t.TempDir(), "bench.json")
	replaced := clitest.Replaced(t, js)
	prof := filepath.Join(t.TempDir(), "cpu.prof")
	if code := run([]string{"-batch", "4", "-steps", "1", "-warmup", "1", "-threads", "1", "-no-forward", "-json", js, "-cpuprofile", prof}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	replaced()
	// A pprof profile is a gzip stream.
	if b, err := os.ReadFile(prof); err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Errorf("-cpuprofile wrote %d bytes (%v), want a gzipped profile", len(b), err)
	}
	var res struct {
		Train struct {
			StepS []float64 `json:"step_s"`
		} `json:"train"`
	}
	if b, err := os.ReadFile(js); err != nil || json.Unmarshal(b, &res) != nil || len(res.Train.StepS) != 1 {
		t.Errorf("-json wrote %q (%v)", b, err)
	}
	for _, want := range []string{"pairflow trainbench: smallcnn", "images/s", "conv"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
