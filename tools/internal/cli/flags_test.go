package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"
)

const head = "Usage: tool [flags] [FILE]\n\nFlags:\n"

// tool is a small command built the way pairflow's commands are: flags,
// Parse, a later check of a flag's value, then the work.
func tool(fs *FlagSet, args []string) error {
	n := fs.Int("n", 1, "count (1..9)")
	if err := fs.Parse(args, 1); err != nil {
		return err
	}
	if *n < 1 || *n > 9 {
		return fmt.Errorf("%w: --n %d: want 1..9", ErrUsage, *n)
	}
	if fs.NArg() == 1 && fs.Arg(0) == "missing" {
		return errors.New("missing: no such file")
	}
	return nil
}

func TestFlagSet(t *testing.T) {
	// The usage text: the head, then the flag defaults.
	var help bytes.Buffer
	hfs := NewFlagSet("tool", head, &help)
	if err := tool(hfs, []string{"--help"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	usage := help.String()
	if !strings.HasPrefix(usage, head) || !strings.Contains(usage, "count (1..9)") {
		t.Fatalf("usage text %q: want the head, then the flag defaults", usage)
	}
	for _, c := range []struct {
		args  []string
		code  int
		usage bool   // the usage text is printed
		line  string // the one error line, printed last ("" for none)
	}{
		{nil, 0, false, ""},
		{[]string{"-n", "3", "file"}, 0, false, ""},
		{[]string{"--help"}, 0, true, ""},
		{[]string{"-h"}, 0, true, ""},
		{[]string{"--bogus"}, 2, true, "tool: usage: flag provided but not defined: -bogus"},
		{[]string{"-n", "x"}, 2, true, `tool: usage: invalid value "x" for flag -n: parse error`},
		{[]string{"-n", "12"}, 2, true, "tool: usage: --n 12: want 1..9"},
		{[]string{"a", "b"}, 2, true, `tool: usage: unexpected argument "b"`},
		{[]string{"a", "b", "c"}, 2, true, `tool: usage: unexpected arguments ["b" "c"]`},
		{[]string{"missing"}, 1, false, "tool: missing: no such file"},
	} {
		var stderr bytes.Buffer
		fs := NewFlagSet("tool", head, &stderr)
		code := fs.Exit(tool(fs, c.args))
		want := ""
		if c.usage {
			want = usage
		}
		if c.line != "" {
			want += c.line + "\n"
		}
		if code != c.code || stderr.String() != want {
			t.Errorf("%q: exit %d, stderr %q; want %d, %q", c.args, code, stderr.String(), c.code, want)
		}
	}
}

func TestParseAnyArgs(t *testing.T) {
	fs := NewFlagSet("tool", head, &bytes.Buffer{})
	if err := fs.Parse([]string{"a", "b", "c"}, -1); err != nil || fs.NArg() != 3 {
		t.Errorf("Parse(-1) = %v, %d arguments", err, fs.NArg())
	}
	fs = NewFlagSet("tool", head, &bytes.Buffer{})
	if err := fs.Parse([]string{"a"}, 0); !errors.Is(err, ErrUsage) {
		t.Errorf("Parse(0) with an argument = %v, want a usage error", err)
	}
	if err := fs.Exit(fmt.Errorf("wrapped: %w", flag.ErrHelp)); err != 0 {
		t.Errorf("Exit(ErrHelp) = %d", err)
	}
}

func ExampleFlagSet() {
	var stderr bytes.Buffer
	fs := NewFlagSet("tool", "Usage: tool --n N\n\nFlags:\n", &stderr)
	fs.Int("n", 1, "count")
	code := fs.Exit(fs.Parse([]string{"--n", "two"}, 0))
	fmt.Print(code, "\n", stderr.String())
	// Output:
	// 2
	// Usage: tool --n N
	//
	// Flags:
	//   -n int
	//     	count (default 1)
	// tool: usage: invalid value "two" for flag -n: parse error
}

func TestStrings(t *testing.T) {
	var stderr bytes.Buffer
	fs := NewFlagSet("tool", head, &stderr)
	names := fs.Strings("name", "a name (repeatable)")
	if err := fs.Parse([]string{"--name", "b", "--name=a", "--name", "b,c"}, 0); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(*names, "|"); got != "b|a|b,c" {
		t.Fatalf("values %q, want b|a|b,c in command-line order", got)
	}
	if f := fs.Lookup("name"); f.Value.String() != "b,a,b,c" {
		t.Fatalf("String() %q", f.Value.String())
	}
	fs = NewFlagSet("tool", head, &stderr)
	names = fs.Strings("name", "a name (repeatable)")
	if err := fs.Parse(nil, 0); err != nil || len(*names) != 0 {
		t.Fatalf("no flag: %q, %v", *names, err)
	}
}
