package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// FlagSet is a command's flag set: a flag.FlagSet that continues on error,
// writes to the command's stderr, and whose usage text is the command's own
// head (what it does and its synopsis) followed by the flag defaults. Build
// one with NewFlagSet, define the flags on it as on any flag.FlagSet, read
// the command line with Parse, and end the command with Exit, which prints
// the usage text above the one-line message of any usage error.
type FlagSet struct {
	*flag.FlagSet
	stderr io.Writer
}

// NewFlagSet returns the flag set of the command name, whose usage text
// (printed by --help and with every usage error) is head followed by the
// flag defaults. Messages go to stderr.
func NewFlagSet(name, head string, stderr io.Writer) *FlagSet {
	fs := &FlagSet{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), stderr: stderr}
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), head)
		fs.PrintDefaults()
	}
	return fs
}

// Parse parses args, which must hold at most maxArgs arguments after the
// flags (maxArgs < 0: any number). It returns flag.ErrHelp after printing
// the usage text for -h or --help, an error wrapping ErrUsage for an unknown
// flag, a bad flag value or a stray argument (printing nothing: Exit prints
// the usage text and the one line), and nil otherwise.
func (fs *FlagSet) Parse(args []string, maxArgs int) error {
	// The flag package would print its message and the usage text itself
	// on a bad flag; Exit prints both, once.
	usage, out := fs.Usage, fs.Output()
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	err := fs.FlagSet.Parse(args)
	fs.Usage = usage
	fs.SetOutput(out)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.Usage()
		return err
	case err != nil:
		return fmt.Errorf("%w: %v", ErrUsage, err)
	case maxArgs >= 0 && fs.NArg() > maxArgs:
		if extra := fs.Args()[maxArgs:]; len(extra) > 1 {
			return fmt.Errorf("%w: unexpected arguments %q", ErrUsage, extra)
		}
		return fmt.Errorf("%w: unexpected argument %q", ErrUsage, fs.Arg(maxArgs))
	}
	return nil
}

// Exit is ExitCode for the command that fs belongs to: it returns the exit
// status of err (0 for nil and flag.ErrHelp, 2 for ErrUsage, 1 otherwise)
// after printing a non-nil err as one line "name: err" to stderr, and, for
// a usage error (a bad flag from Parse, or a bad value or missing flag
// found later and wrapped in ErrUsage), the usage text above that line.
func (fs *FlagSet) Exit(err error) int {
	if errors.Is(err, ErrUsage) && !errors.Is(err, flag.ErrHelp) {
		fs.Usage()
	}
	return ExitCode(fs.Name(), err, fs.stderr)
}

// Strings defines a repeatable string flag: each occurrence on the command
// line appends its value, in order, to the returned slice.
func (fs *FlagSet) Strings(name, usage string) *[]string {
	var l stringList
	fs.Var(&l, name, usage)
	return (*[]string)(&l)
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }
