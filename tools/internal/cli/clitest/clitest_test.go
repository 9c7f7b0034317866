package clitest

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/pairflow/pairflow/tools/internal/cli"
)

func TestUsage(t *testing.T) {
	run := func(args []string, stdout, stderr *bytes.Buffer) int {
		fs := cli.NewFlagSet("tool", "Usage: tool [flags]\n\nFlags:\n", stderr)
		n := fs.Int("n", 1, "count")
		err := fs.Parse(args, 0)
		if err == nil && *n < 1 {
			err = fmt.Errorf("%w: --n must be positive", cli.ErrUsage)
		}
		return fs.Exit(err)
	}
	Usage(t, "tool", "Usage: tool", run, []string{"--bogus"}, []string{"-n", "x"}, []string{"-n", "0"}, []string{"stray"})

	// A command that does not print the usage text, or exits 1, fails.
	ft := &fakeT{}
	Usage(ft, "tool", "Usage: tool", func(args []string, stdout, stderr *bytes.Buffer) int {
		return cli.ExitCode("tool", fmt.Errorf("%w: bad", cli.ErrUsage), stderr)
	}, []string{"--bogus"})
	if !ft.failed {
		t.Error("Usage passed a command that prints no usage text")
	}
}

type fakeT struct{ failed bool }

func (f *fakeT) Helper()               {}
func (f *fakeT) Errorf(string, ...any) { f.failed = true }
