// Command shardify packs image datasets into pairflow shards, verifies them
// and shows what they hold.
//
//	shardify pack --in SRC --out DIR [flags]   pack one split
//	shardify verify DIR                        check every CRC and SHA-256
//	shardify inspect DIR [--contact-sheet OUT.png --n 64]
//
// Sources: ImageFolder trees (class sub-folders), WebDataset tar shards,
// MNIST-style IDX files and CIFAR-10/100 binary batches. Run
// "shardify CMD --help" for each command's flags. Exit status: 0 on
// success, 1 on failure, 2 on a usage error.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/pairflow/pairflow/tools/internal/cli"
)

const usage = `shardify packs image datasets into pairflow shards.

Usage:
  shardify pack --in SRC --out DIR [flags]   pack one split of a dataset
  shardify verify DIR                        check every record CRC and shard SHA-256
  shardify inspect DIR [flags]               counts, classes, sizes; optional contact sheet

Run "shardify COMMAND --help" for the flags of each command.
`

// cli.ErrUsage marks command-line mistakes (exit status 2).
func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "pack":
		err = cmdPack(args[1:], stdout, stderr)
	case "verify":
		err = cmdVerify(args[1:], stdout, stderr)
	case "inspect":
		err = cmdInspect(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "shardify: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	return cli.ExitCode("shardify", err, stderr)
}

// parseInterleaved parses flags that may come before or after positional
// arguments ("inspect DIR --n 8" and "inspect --n 8 DIR").
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", cli.ErrUsage, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "%s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}
