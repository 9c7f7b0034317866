package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pairflow/pairflow/tools/internal/cli/clitest"
)

func TestCommandLine(t *testing.T) {
	_, dir := makeDatasetDir(t, 8, 8, 8)
	short := filepath.Join(t.TempDir(), "short")
	os.WriteFile(short, []byte("tiny"), 0o600)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--help"}, 0, "Usage: serve"},
		{nil, 2, "--dataset NAME=PATH is required"},
		{[]string{"--dataset", "nopath"}, 2, "want NAME=PATH"},
		{[]string{"--dataset", "d=" + dir, "--dataset", "d=" + dir}, 2, "given twice"},
		{[]string{"--dataset", "d=" + dir, "--tls-cert", "x"}, 2, "go together"},
		{[]string{"--dataset", "d=" + dir, "--log-format", "xml"}, 2, "--log-format"},
		{[]string{"--dataset", "d=" + dir, "extra"}, 2, "unexpected argument"},
		{[]string{"--dataset", "d=" + filepath.Join(dir, "missing")}, 1, "dataset d"},
		{[]string{"--dataset", "d=" + dir, "--ticket-key", short, "--listen", "127.0.0.1:0"}, 1, "ticket key of 4 bytes"},
		{[]string{"--dataset", "d=" + dir, "--ticket-key", "/dev/zero"}, 1, "regular file"},
		{[]string{"--dataset", "d=" + dir, "--listen", "256.0.0.1:0"}, 1, "listen"},
	} {
		var stderr bytes.Buffer
		code := run(context.Background(), tc.args, &stderr, &stderr)
		if code != tc.code || !strings.Contains(stderr.String(), tc.msg) {
			t.Errorf("%v: exit %d (want %d), stderr:\n%s\nwant it to contain %q", tc.args, code, tc.code, stderr.String(), tc.msg)
		}
	}
}

// TestCommandStops: SIGINT (a cancelled context) stops a running server
// with exit status 0.
func TestCommandStops(t *testing.T) {
	_, dir := makeDatasetDir(t, 8, 8, 8)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stderr bytes.Buffer
	if code := run(ctx, []string{"--dataset", "d=" + dir, "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
		"--metrics-listen", "127.0.0.1:0"}, &stderr, &stderr); code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr.String())
	}
	for _, s := range []string{"flight listening", "http listening", "metrics listening", "stopping"} {
		if !strings.Contains(stderr.String(), s) {
			t.Errorf("log lacks %q:\n%s", s, stderr.String())
		}
	}
}

// TestUsageText: --help exits 0 with the usage text; an unknown flag, a bad
// value (found by the flag package or later), and a stray argument exit 2
// with the usage text and one line.
func TestUsageText(t *testing.T) {
	clitest.Usage(t, "serve", "Usage: serve", func(args []string, stdout, stderr *bytes.Buffer) int {
		return run(context.Background(), args, stdout, stderr)
	},
		[]string{"--bogus"}, []string{"--max-streams", "x"}, nil, []string{"--dataset", "d=x", "--access", "sideways"}, []string{"--dataset", "d=x", "extra"})
}
