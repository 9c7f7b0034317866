// Package clitest checks that a pairflow command parses and exits the one
// way tools/internal/cli gives: --help prints the usage text and exits 0;
// a usage error prints the usage text and then one "name: usage: …" line
// and exits 2.
package clitest

import (
	"bytes"
	"os"
	"strings"
)

// T is the part of *testing.T that Usage uses.
type T interface {
	Helper()
	Errorf(format string, args ...any)
}

// Run is a command's run function: it runs the command with args and
// returns its exit status.
type Run func(args []string, stdout, stderr *bytes.Buffer) int

// Usage runs the command named name with --help, then with each of bad
// (command lines with a usage error: an unknown flag, a bad value, a stray
// argument), and checks the exit status and stderr: the usage text, which
// contains marker, for all of them, and for each bad one exactly one line
// naming the command, last, "name: usage: …".
func Usage(t T, name, marker string, run Run, bad ...[]string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--help"}, &stdout, &stderr); code != 0 || !strings.Contains(stderr.String(), marker) {
		t.Errorf("%s --help: exit %d, stderr %q; want 0 and the usage text (%q)", name, code, stderr.String(), marker)
	}
	for _, args := range bad {
		stdout.Reset()
		stderr.Reset()
		code := run(args, &stdout, &stderr)
		out := stderr.String()
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		named := 0
		for _, l := range lines {
			if strings.HasPrefix(l, name+": ") {
				named++
			}
		}
		if code != 2 || strings.Count(out, marker) != 1 || named != 1 || !strings.HasPrefix(lines[len(lines)-1], name+": usage: ") {
			t.Errorf("%s %q: exit %d, stderr %q; want 2, the usage text (%q) once and one last line %q", name, args, code, out, marker, name+": usage: …")
		}
	}
}

// FatalT is the part of *testing.T that Replaced uses.
type FatalT interface {
	T
	Fatal(args ...any)
}

// Replaced prepares path for a test of a command's output: it puts an old
// file there and a hard link to it beside. The returned check asserts that
// path then holds something else and that the link still holds the old
// bytes: the command wrote a new file and renamed it into place (as
// internal/atomicfile does) rather than truncating and rewriting the old
// one, which a crash would leave cut short.
func Replaced(t FatalT, path string) (check func()) {
	t.Helper()
	const old = "old output\n"
	link := path + ".old-link"
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(path, link); err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		if b, err := os.ReadFile(link); err != nil || string(b) != old {
			t.Errorf("%s was rewritten in place (its old inode now holds %q, %v), not written to a temporary file and renamed", path, b, err)
		}
		if b, err := os.ReadFile(path); err != nil || string(b) == old {
			t.Errorf("%s was not written: %q, %v", path, b, err)
		}
		os.Remove(link)
	}
}
