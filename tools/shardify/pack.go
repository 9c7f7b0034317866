package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sourcegraph/conc/stream"

	"github.com/pairflow/pairflow/imageio"
	"github.com/pairflow/pairflow/ops"
	"github.com/pairflow/pairflow/pipeline"
	"github.com/pairflow/pairflow/shards"
	"github.com/pairflow/pairflow/store"
	"github.com/pairflow/pairflow/tools/internal/cli"
	"github.com/pairflow/pairflow/tools/internal/progress"
	"github.com/pairflow/pairflow/tools/shardify/internal/convert"
	"github.com/pairflow/pairflow/tools/shardify/internal/source"
)

const packSynopsis = `Usage: shardify pack --in SRC --out DIR [flags]

Packs one split of a dataset into DIR: shard files <split>-NNNNN.pfs and the
manifest index.json (written last). A previous, possibly interrupted, run of
the same split in DIR is removed first.

DIR may be s3://bucket/prefix/split: each shard is uploaded as soon as it is
finished and index.json last, so a reader never sees a partial split and an
interrupted pack leaves no manifest; a dataset already there is refused
unless --overwrite.

SRC is an ImageFolder tree (class sub-folders, labels by sorted name), a
WebDataset tar, a directory of tars or a brace pattern ("shard-{000..003}.tar"),
an IDX images file ("*-images-idx3-ubyte[.gz]", labels file beside it) or a
CIFAR-10/100 batch file or directory (a directory means its training batches,
or its test batch with --split test).

WebDataset: consecutive members sharing a key (path up to the first dot of the
base name) form a sample; the image is the .jpg, .jpeg, .png or .webp member
(first in that order), the label the integer in .cls, else the integer field
"label" (or "cls") of .json; a .json of at most 4 KiB is kept as metadata.
ImageFolder keys are the relative file paths, IDX keys the image index,
CIFAR keys "<batch>/<index>"; CIFAR-100 keeps the coarse label in metadata.

Files that cannot be packed (undecodable, empty, unsupported, over the pixel
budget, WebDataset samples without an image or with a bad label, labels
outside 0..classes-1, or outside 0..--max-label when the class names are not
known) are skipped with a warning and listed in the manifest; --strict makes
the first one fatal. The default --max-pixels is the pipeline's default
budget, so whatever packs can be read; the budget is recorded in the manifest
and a pipeline with a smaller one refuses the split.

Inputs are read to their end: a compressed input whose gzip trailer does not
match, bytes after IDX data, or an official CIFAR batch with fewer records
than it should hold fail the pack. Each input file's SHA-256 is recorded in
the manifest. Two packs cannot write into one --out at once (a lock), and a
pack never removes another split's index.json.

The same input and output-shaping flags give byte-identical output for any
--workers.`

type packConfig struct {
	in, out, format, encoding, split, classes string
	quality, maxSide, workers                 int
	filter                                    ops.Filter
	shardSize                                 int64
	maxPixels, maxLabel                       int64
	dict, strict, quiet, overwrite            bool
	cifarPartial, followSymlinks              bool
	progressEvery                             time.Duration
	remote                                    cli.Remote
}

func cmdPack(fs *cli.FlagSet, args []string, stdout, stderr io.Writer) error {
	var c packConfig
	var shardSize, maxPixels, filter string
	fs.StringVar(&c.in, "in", "", "input: folder, tar, tar directory, brace pattern, IDX file or CIFAR batch/directory (required)")
	fs.StringVar(&c.out, "out", "", "output directory for the split, or s3://bucket/prefix/split (required)")
	fs.BoolVar(&c.overwrite, "overwrite", false, "replace a dataset already at an s3:// --out (a local --out is always replaced)")
	c.remote.Register(fs.FlagSet)
	fs.StringVar(&c.format, "format", "auto", "input format: "+strings.Join(source.Formats, "|"))
	fs.StringVar(&c.encoding, "encoding", "raw-s2", "record encoding: raw-zstd|raw-s2|keep|jpeg")
	fs.IntVar(&c.quality, "quality", 90, "JPEG quality (1..100) for --encoding jpeg and for images that --max-side makes keep re-encode")
	fs.IntVar(&c.maxSide, "max-side", 0, "downscale so the longer side is at most N pixels (with --max-side-filter; by default antialiased bilinear, as the recipes resize); 0 keeps sizes. With keep, only larger images are re-encoded (JPEG/WebP as JPEG, others as PNG)")
	fs.StringVar(&filter, "max-side-filter", "bilinear", "--max-side's resampling filter: bilinear (the recipes' resize) or lanczos3 (Pillow's antialiased Lanczos-3, sharper, slower)")
	fs.StringVar(&shardSize, "shard-size", "256MiB", "roll to a new shard before one would exceed this size (B, KiB, MiB, GiB, kB, MB, GB)")
	fs.StringVar(&c.split, "split", "train", "split name: shard files are SPLIT-00000.pfs, ...")
	fs.IntVar(&c.workers, "workers", runtime.GOMAXPROCS(0), "goroutines decoding and encoding in parallel (output does not depend on it)")
	fs.BoolVar(&c.strict, "strict", false, "fail on the first input that would be skipped")
	fs.StringVar(&maxPixels, "max-pixels", defaultMaxPixels, "refuse images whose header claims more pixels (width×height) than this (suffix K, M, G, Ki, Mi, Gi allowed); the default is the pipeline's default budget")
	fs.Int64Var(&c.maxLabel, "max-label", defaultMaxLabel, "largest label accepted when the class names are not known (labels must be 0..classes-1 when they are)")
	fs.BoolVar(&c.cifarPartial, "cifar-partial", false, "accept CIFAR batches under official names that hold fewer records than the official ones")
	fs.BoolVar(&c.followSymlinks, "follow-symlinks", false, "ImageFolder: take class folders that are symlinks to directories outside --in (links that loop are always skipped)")
	fs.BoolVar(&c.dict, "dict", false, "train a zstd dictionary on the first records and store it in each shard (raw-zstd; helps small images such as 28x28)")
	fs.StringVar(&c.classes, "classes", "", "file with one class name per line, in label order (overrides names found in the input)")
	fs.BoolVar(&c.quiet, "quiet", false, "no progress reports and no per-file warnings (the summary is still printed)")
	fs.DurationVar(&c.progressEvery, "progress-every", 0, "interval between progress reports (default 250ms on a terminal, 5s otherwise)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: pack takes no positional arguments (got %q); use --in and --out", cli.ErrUsage, pos)
	}
	if c.in == "" || c.out == "" {
		return fmt.Errorf("%w: pack needs --in and --out", cli.ErrUsage)
	}
	if c.shardSize, err = store.ParseBytes(strings.TrimSpace(shardSize)); err != nil || c.shardSize < 1<<10 {
		return fmt.Errorf("%w: --shard-size %q: want a size of at least 1KiB such as 256MiB", cli.ErrUsage, shardSize)
	}
	if c.maxPixels, err = parseCount(maxPixels); err != nil || c.maxPixels < 1 || c.maxPixels > maxPackPixels {
		return fmt.Errorf("%w: --max-pixels %q: want a count from 1 to %d such as 64Mi", cli.ErrUsage, maxPixels, int64(maxPackPixels))
	}
	if c.filter, err = ops.ParseFilter(filter); err != nil {
		return fmt.Errorf("%w: --max-side-filter %q: want bilinear or lanczos3", cli.ErrUsage, filter)
	}
	if c.maxLabel < 0 || c.maxLabel > math.MaxInt32 {
		return fmt.Errorf("%w: --max-label %d outside 0..%d", cli.ErrUsage, c.maxLabel, math.MaxInt32)
	}
	if c.workers < 1 || c.workers > 1024 {
		return fmt.Errorf("%w: --workers %d outside 1..1024", cli.ErrUsage, c.workers)
	}
	_, err = pack(c, stderr)
	return err
}

// defaultMaxPixels is --max-pixels' default: the pipeline's default budget,
// so that whatever packs by default a default pipeline reads.
var defaultMaxPixels = fmt.Sprintf("%dMi", imageio.DefaultMaxPixels>>20)

// defaultMaxLabel bounds labels when class names are unknown: below 2^20.
// A label is an index into a model's output layer: 2147483647 made lineval
// try to allocate about 1 TiB.
const defaultMaxLabel = 1<<20 - 1

// maxPackPixels bounds --max-pixels: the largest budget a pipeline can be
// given. (A raw record above shards.MaxPixelBytes is skipped, whatever the
// budget.)
const maxPackPixels = pipeline.MaxPixelsLimit

// packStats is what a pack did.
type packStats struct {
	records, skipped       int64
	bytesIn, pixels, bytes int64
	shards                 int
	elapsed                time.Duration
}

func pack(c packConfig, stderr io.Writer) (packStats, error) {
	var st packStats
	conv, err := convert.New(convert.Options{Encoding: c.encoding, Quality: c.quality, MaxSide: c.maxSide, Filter: c.filter, MaxPixels: c.maxPixels}, decodeImage)
	if err != nil {
		return st, fmt.Errorf("%w: %v", cli.ErrUsage, err)
	}
	src, err := source.Open(c.in, c.format, source.Options{Split: c.split, PartialCIFAR: c.cifarPartial, FollowSymlinks: c.followSymlinks})
	if err != nil {
		return st, err
	}
	defer src.Close()
	format := c.format
	if format == "auto" || format == "" {
		format, _ = source.Detect(c.in)
	}
	if c.encoding == "keep" && (format == "idx" || format == "cifar") {
		return st, fmt.Errorf("%w: --encoding keep needs encoded images; %s inputs hold raw pixels (use raw-zstd, raw-s2 or jpeg)", cli.ErrUsage, format)
	}
	classes := src.Classes()
	if c.classes != "" {
		if classes, err = source.ReadClassNames(c.classes); err != nil {
			return st, fmt.Errorf("--classes: %w", err)
		}
	}
	// Everything that shapes the bytes of the output is recorded; nothing
	// that does not (paths, worker count, times).
	opts := map[string]string{
		"source":   format,
		"encoding": c.encoding,
		"max_side": strconv.Itoa(c.maxSide),
		"packer":   "shardify/2",
	}
	// Labels are checked against the class names when there are any, else
	// against --max-label (which is then recorded: it shapes the output).
	labelMax := c.maxLabel
	if len(classes) > 0 {
		labelMax = int64(len(classes)) - 1
	} else {
		opts["max_label"] = strconv.FormatInt(c.maxLabel, 10)
	}
	if c.followSymlinks {
		opts["follow_symlinks"] = "true" // it decides which class folders are packed
	}
	if c.filter != ops.Bilinear && c.maxSide > 0 {
		opts["max_side_filter"] = c.filter.String() // absent for bilinear: the default's manifest is as before
	}
	if c.encoding == "jpeg" || (c.encoding == "keep" && c.maxSide > 0) {
		opts["quality"] = strconv.Itoa(c.quality)
	}
	oo, err := c.remote.OpenOptions()
	if err != nil {
		return st, err
	}
	w, err := shards.Create(c.out, shards.WriterOptions{
		Split:         c.split,
		MaxShardBytes: c.shardSize,
		Dictionary:    c.dict,
		Classes:       classes,
		Options:       opts,
		MaxPixels:     c.maxPixels,
		Store:         oo.Store,
		Overwrite:     c.overwrite,
	})
	if err != nil {
		return st, err
	}
	meter := progress.New(stderr, progress.Options{Name: "shardify", Unit: "records", Rate: "rec",
		Total: int64(src.Len()), TotalBytes: src.InputBytes(), TTY: progress.ForFile(stderr), Interval: c.progressEvery})
	if c.quiet {
		meter = progress.New(io.Discard, progress.Options{Total: -1, TotalBytes: -1, Interval: time.Hour})
	}
	meter.Start()
	defer meter.Stop()

	var stop atomic.Bool
	var fatal error // set only in stream callbacks, which run one at a time
	var pixels int64
	s := stream.New().WithMaxGoroutines(c.workers)
	skip := func(p, reason string, in int64) {
		p = skipPath(p)
		meter.Add(true, in)
		// Paths and reasons come from the input (file names may hold
		// newlines): quoted, they cannot forge lines of the report.
		if c.strict {
			fatal = fmt.Errorf("%s: %s (--strict)", strconv.Quote(p), oneLine(reason))
			stop.Store(true)
			return
		}
		if !c.quiet {
			meter.Warn("shardify: skipped %s: %s", strconv.Quote(p), oneLine(reason))
		}
		if err := w.Skip(p, reason); err != nil {
			fatal = err
			stop.Store(true)
		}
	}
	// SIGINT/SIGTERM: stop reading, let the running conversions finish,
	// remove what was written (the next run starts clean anyway).
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	var srcErr error
	for !stop.Load() {
		select {
		case sig := <-sigs:
			srcErr = fmt.Errorf("interrupted by %v: partial output removed", sig)
			stop.Store(true)
			continue
		default:
		}
		it, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			srcErr = err
			break
		}
		s.Go(func() stream.Callback {
			if stop.Load() {
				return func() {}
			}
			res := conv.Convert(it)
			return func() {
				if fatal != nil {
					return
				}
				if res.Skip == "" && (!utf8.ValidString(res.Rec.Key) || len(res.Rec.Key) > shards.MaxKeyBytes) {
					res.Skip = "key is not 1..1024 bytes of UTF-8"
				}
				if l := int64(res.Rec.Label); res.Skip == "" && res.Rec.HasLabel && (l < 0 || l > labelMax) {
					if len(classes) > 0 {
						res.Skip = fmt.Sprintf("label %d is not a class index (0..%d, %d classes)", l, labelMax, len(classes))
					} else {
						res.Skip = fmt.Sprintf("label %d outside 0..%d (--max-label raises the bound)", l, labelMax)
					}
				}
				if res.Skip != "" {
					skip(res.Path, res.Skip, res.InBytes)
					return
				}
				if err := w.Append(&res.Rec); err != nil {
					if errors.Is(err, shards.ErrInvalid) || errors.Is(err, shards.ErrDuplicateKey) {
						skip(res.Path, err.Error(), res.InBytes)
						return
					}
					fatal = fmt.Errorf("%s: %w", strconv.Quote(res.Path), err)
					stop.Store(true)
					return
				}
				pixels += res.PixelBytes
				meter.Add(false, res.InBytes)
			}
		})
	}
	s.Wait()
	meter.Stop()
	if fatal == nil {
		fatal = srcErr
	}
	if fatal == nil {
		fatal = addInputs(w, src)
	}
	if fatal != nil {
		w.Abort()
		return st, fatal
	}
	if err := w.Close(); err != nil {
		return st, err
	}
	d, err := shards.Open(c.out, oo)
	if err != nil {
		return st, fmt.Errorf("reopening the written split: %w", err)
	}
	m := d.Manifest()
	d.Close()
	st = packStats{records: m.Records, skipped: meter.Skipped(), bytesIn: meter.BytesIn(), pixels: pixels,
		shards: len(m.Shards), elapsed: meter.Elapsed()}
	for _, sh := range m.Shards {
		st.bytes += sh.Bytes
	}
	printSummary(stderr, c, st)
	if st.records == 0 {
		fmt.Fprintf(stderr, "shardify: warning: the split holds no records: every input was skipped (see the warnings, or \"skipped\" in %s)\n", shards.ManifestName)
	}
	return st, nil
}

func printSummary(w io.Writer, c packConfig, st packStats) {
	secs := st.elapsed.Seconds()
	ratio := func(a, b int64) string {
		if b == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.2fx", float64(a)/float64(b))
	}
	fmt.Fprintf(w, "shardify: packed %d records into %d shard(s) in %s (%s, split %s); skipped %d\n",
		st.records, st.shards, c.out, c.encoding, c.split, st.skipped)
	fmt.Fprintf(w, "shardify: bytes in %s, pixels %s, out %s; compression in/out %s, pixels/out %s\n",
		progress.Bytes(st.bytesIn), progress.Bytes(st.pixels), progress.Bytes(st.bytes), ratio(st.bytesIn, st.bytes), ratio(st.pixels, st.bytes))
	if secs > 0 {
		fmt.Fprintf(w, "shardify: time %.2fs: %.0f records/s, %.1f MB/s in\n",
			secs, float64(st.records+st.skipped)/secs, float64(st.bytesIn)/secs/1e6)
	}
}

// addInputs records the inputs' digests in the manifest.
func addInputs(w *shards.Writer, src source.Source) error {
	ins, err := src.Inputs()
	if err != nil {
		return err
	}
	for _, in := range ins {
		if err := w.AddInput(shards.Input{Path: in.Path, Files: in.Files, Bytes: in.Bytes, SHA256: hex.EncodeToString(in.SHA256[:])}); err != nil {
			return err
		}
	}
	return nil
}

// oneLine escapes control characters (newlines above all) so that s
// prints as one line.
func oneLine(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// skipPath makes p a clean relative slash path for the manifest.
func skipPath(p string) string {
	p = path.Clean(strings.ReplaceAll(strings.ToValidUTF8(p, "\uFFFD"), "\\", "/"))
	p = strings.TrimLeft(p, "/")
	for strings.HasPrefix(p, "../") {
		p = p[3:]
	}
	if p == "" || p == "." || p == ".." {
		p = "unnamed"
	}
	return p
}

// parseCount parses "100M", "2G", "5000", "1.5M".
func parseCount(s string) (int64, error) {
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "P"))
	mul := 1.0
	switch {
	case strings.HasSuffix(s, "Ki"):
		mul, s = 1<<10, s[:len(s)-2]
	case strings.HasSuffix(s, "Mi"):
		mul, s = 1<<20, s[:len(s)-2]
	case strings.HasSuffix(s, "Gi"):
		mul, s = 1<<30, s[:len(s)-2]
	case strings.HasSuffix(s, "K"), strings.HasSuffix(s, "k"):
		mul, s = 1e3, s[:len(s)-1]
	case strings.HasSuffix(s, "M"):
		mul, s = 1e6, s[:len(s)-1]
	case strings.HasSuffix(s, "G"):
		mul, s = 1e9, s[:len(s)-1]
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || v*mul > 1<<62 {
		return 0, fmt.Errorf("bad count %q", s)
	}
	return int64(v * mul), nil
}
