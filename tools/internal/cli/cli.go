// Package cli holds what pairflow's commands share: the error that marks a
// mistake in the command line, and the mapping from a command's error to its
// message and exit status.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// ErrUsage marks a mistake in the command line (a missing, unknown or
// out-of-range flag or argument); wrap it with the details:
// fmt.Errorf("%w: --batch must be positive", cli.ErrUsage).
var ErrUsage = errors.New("usage")

// ExitCode returns the exit status of a command named name that ended with
// err, after printing a non-nil err as "name: err" to stderr: 0 for nil and
// for flag.ErrHelp (--help was asked for and printed), 2 for ErrUsage, 1 for
// any other error.
func ExitCode(name string, err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	if errors.Is(err, ErrUsage) {
		return 2
	}
	return 1
}
