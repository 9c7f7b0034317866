package main

import (
	"fmt"
	"io"

	"github.com/pairflow/pairflow/shards"
	"github.com/pairflow/pairflow/tools/internal/cli"
)

const verifySynopsis = `Usage: shardify verify DIR

Checks the split in DIR against its manifest: every shard's SHA-256, every
record's CRCs and body, raw payloads decompress to their geometry, keys are
unique. Prints each problem (shard, record, offset) and exits 1 if there is
any; exits 0 when all is well. A directory without a manifest (for example
an interrupted pack) fails. DIR may be s3://... or https://...: shards are
fetched into the cache (each checked against its SHA-256 on the way in) and
then checked as local ones.`

func cmdVerify(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("verify", verifySynopsis, stderr)
	var remote cli.Remote
	remote.Register(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return fmt.Errorf("%w: verify takes one directory", cli.ErrUsage)
	}
	dir := pos[0]
	oo, err := remote.OpenOptions()
	if err != nil {
		return err
	}
	d, err := shards.Open(dir, oo)
	if err != nil {
		return fmt.Errorf("verify %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Verify(); err != nil {
		probs := unjoin(err)
		for _, p := range probs {
			fmt.Fprintf(stdout, "BAD %v\n", p)
		}
		return fmt.Errorf("verify %s: %d problem(s) found", dir, len(probs))
	}
	m := d.Manifest()
	fmt.Fprintf(stdout, "OK %s: %d records in %d shard(s), split %q, all checksums match\n", dir, m.Records, len(m.Shards), m.Split)
	return nil
}

// unjoin flattens an errors.Join tree into its leaves.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}
