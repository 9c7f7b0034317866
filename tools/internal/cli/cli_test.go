package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"testing"
)

func TestExitCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		code int
		msg  string
	}{
		{nil, 0, ""},
		{flag.ErrHelp, 0, ""},
		{fmt.Errorf("parse: %w", flag.ErrHelp), 0, ""},
		{fmt.Errorf("%w: --batch must be positive", ErrUsage), 2, "tool: usage: --batch must be positive\n"},
		{errors.New("data/train: shard 3 record 17: bad checksum"), 1, "tool: data/train: shard 3 record 17: bad checksum\n"},
	} {
		var stderr bytes.Buffer
		if got := ExitCode("tool", c.err, &stderr); got != c.code || stderr.String() != c.msg {
			t.Errorf("ExitCode(%v) = %d, %q; want %d, %q", c.err, got, stderr.String(), c.code, c.msg)
		}
	}
}

func ExampleExitCode() {
	var stderr bytes.Buffer
	code := ExitCode("shardify", fmt.Errorf("%w: --out is required", ErrUsage), &stderr)
	fmt.Print(code, " ", stderr.String())
	// Output: 2 shardify: usage: --out is required
}
