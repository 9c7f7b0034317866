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
	var synopsis string
	var cmd func(fs *cli.FlagSet, args []string, stdout, stderr io.Writer) error
	switch args[0] {
	case "pack":
		synopsis, cmd = packSynopsis, cmdPack
	case "verify":
		synopsis, cmd = verifySynopsis, cmdVerify
	case "inspect":
		synopsis, cmd = inspectSynopsis, cmdInspect
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "shardify: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	fs := cli.NewFlagSet("shardify", synopsis+"\n\nFlags:\n", stderr)
	return fs.Exit(cmd(fs, args[1:], stdout, stderr))
}

// parseInterleaved parses flags that may come before or after positional
// arguments ("inspect DIR --n 8" and "inspect --n 8 DIR").
func parseInterleaved(fs *cli.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args, -1); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
