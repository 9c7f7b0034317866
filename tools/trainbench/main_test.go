package main

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/pairflow/pairflow/tools/internal/cli"
)

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"-opt", "rmsprop"}, {"-encoder", "vit"}, {"-threads", "0"}, {"-bogus"}, {"extra"}} {
		var out, errOut bytes.Buffer
		err := run(args, &out, &errOut)
		if !errors.Is(err, cli.ErrUsage) || cli.ExitCode("trainbench", err, &errOut) != 2 {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
		if !strings.Contains(errOut.String(), "-encoder") {
			t.Errorf("%v: no usage text on stderr: %q", args, errOut.String())
		}
	}
	var out, errOut bytes.Buffer
	if err := run([]string{"--help"}, &out, &errOut); !errors.Is(err, flag.ErrHelp) || !strings.Contains(errOut.String(), "-encoder") {
		t.Errorf("--help: %v %q", err, errOut.String())
	}
}

// TestSmallStep runs one tiny measured step end to end.
func TestSmallStep(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run([]string{"-batch", "4", "-steps", "1", "-warmup", "1", "-threads", "1", "-no-forward"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"pairflow trainbench: smallcnn", "images/s", "conv"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
