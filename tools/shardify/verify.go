package main

import (
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/pairflow/pairflow/imageio"
	"github.com/pairflow/pairflow/pipeline"
	"github.com/pairflow/pairflow/shards"
	"github.com/pairflow/pairflow/tools/internal/cli"
	"github.com/pairflow/pairflow/tools/shardify/internal/source"
)

const verifySynopsis = `Usage: shardify verify DIR [--inputs SRC]

Checks the split in DIR against its manifest: every shard's SHA-256, every
record's CRCs and body, raw payloads decompress to their geometry, keys are
unique; the manifest as a whole (its checksum and canonical form, layout
values and labels against the shards, exact keys); and that a pipeline can
open the split (a record decodes). Prints each problem (shard, record,
offset) and exits 1 if there is any; exits 0 when all is well. A directory
without a manifest (for example an interrupted pack), or a split without
records, fails.

--inputs SRC also checks provenance: each input file the manifest lists is
hashed again (SRC is what pack's --in was: a file, whose directory holds the
inputs, or a directory) and must match its recorded size and SHA-256; an
ImageFolder tree is listed and hashed again.

Warnings (exit status 0): the split's pixel budget or one of its records is
above the default pipeline budget (a default pipeline refuses it: set its
max_pixels), or the manifest is version 1 (no checksum covers its class
names and options).

DIR may be s3://... or https://...: shards are fetched into the cache (each
checked against its SHA-256 on the way in) and then checked as local ones.`

func cmdVerify(fs *cli.FlagSet, args []string, stdout, stderr io.Writer) error {
	var remote cli.Remote
	remote.Register(fs.FlagSet)
	inputs := fs.String("inputs", "", "also check the recorded SHA-256 of every input against the files under this path (pack's --in)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
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
	m := d.Manifest()
	if d.Len() == 0 {
		return fmt.Errorf("verify %s: split %q holds no records (%d input(s) skipped, listed in %s): there is nothing to read",
			dir, m.Split, len(m.Skipped), shards.ManifestName)
	}
	res, err := d.VerifyReport()
	probs := unjoin(err)
	if err == nil {
		probs = nil
	}
	// Can a pipeline open it? Decoding is tried under a budget that admits
	// the split's own records, so that this check is about decodability;
	// the budget itself is a warning below.
	if err := pipeline.CheckDataset(d, max(m.MaxPixels, res.MaxPixels, imageio.DefaultMaxPixels)); err != nil {
		probs = append(probs, fmt.Errorf("a pipeline cannot open the split: %w", err))
	}
	if *inputs != "" {
		probs = append(probs, checkInputs(m, *inputs)...)
	}
	for _, p := range probs {
		fmt.Fprintf(stdout, "BAD %s\n", oneLine(p.Error()))
	}
	if len(probs) > 0 {
		return fmt.Errorf("verify %s: %d problem(s) found", dir, len(probs))
	}
	if err := pipeline.CheckBudget(m, 0); err != nil {
		fmt.Fprintf(stdout, "WARN %s: a default pipeline refuses this split: %v\n", dir, err)
	} else if res.MaxPixels > imageio.DefaultMaxPixels {
		fmt.Fprintf(stdout, "WARN %s: record %q has %d pixels, above the default pipeline budget of %d: a default pipeline fails on it (set the pipeline's max_pixels)\n",
			dir, res.MaxPixelsKey, res.MaxPixels, int64(imageio.DefaultMaxPixels))
	}
	if !res.Checksummed {
		fmt.Fprintf(stdout, "WARN %s: manifest version %d carries no checksum: class names and options are not covered (repack to get version %d)\n",
			dir, m.Version, shards.ManifestVersion)
	}
	what := "all checksums match"
	if *inputs != "" {
		what += ", and the inputs'"
	}
	fmt.Fprintf(stdout, "OK %s: %d records in %d shard(s), split %q, %s\n", dir, m.Records, len(m.Shards), m.Split, what)
	return nil
}

// checkInputs hashes the inputs m lists again, under src (pack's --in).
func checkInputs(m *shards.Manifest, src string) []error {
	if m.Version < 2 || len(m.Inputs) == 0 {
		return []error{fmt.Errorf("--inputs: %s records no inputs (manifest version %d)", shards.ManifestName, m.Version)}
	}
	base := src
	if st, err := os.Stat(src); err != nil {
		return []error{fmt.Errorf("--inputs: %w", err)}
	} else if !st.IsDir() {
		base = filepath.Dir(src)
	}
	var probs []error
	for _, in := range m.Inputs {
		var got source.Input
		if in.Files > 0 {
			s, err := source.Open(base, "imagefolder", source.Options{FollowSymlinks: m.Options["follow_symlinks"] == "true"})
			if err == nil {
				for err == nil {
					_, err = s.Next()
				}
				if err == io.EOF {
					var ins []source.Input
					if ins, err = s.Inputs(); err == nil {
						got = ins[0]
					}
				}
				s.Close()
			}
			if err != nil {
				probs = append(probs, fmt.Errorf("input %s: %w", base, err))
				continue
			}
		} else {
			var err error
			if got.SHA256, got.Bytes, err = source.HashFile(filepath.Join(base, filepath.FromSlash(in.Path))); err != nil {
				probs = append(probs, fmt.Errorf("input %s: %w", strconv.Quote(in.Path), err))
				continue
			}
		}
		if sum := hex.EncodeToString(got.SHA256[:]); sum != in.SHA256 || got.Bytes != in.Bytes || got.Files != in.Files {
			probs = append(probs, fmt.Errorf("input %s: %d bytes (%d files) with SHA-256 %s, %s records %d bytes (%d files) with %s: the input changed since the pack",
				strconv.Quote(in.Path), got.Bytes, got.Files, sum, shards.ManifestName, in.Bytes, in.Files, in.SHA256))
		}
	}
	return probs
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
