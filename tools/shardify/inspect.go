package main

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"sort"
	"strconv"

	"github.com/pairflow/pairflow/imageio"
	"github.com/pairflow/pairflow/ops"
	"github.com/pairflow/pairflow/shards"
	"github.com/pairflow/pairflow/tools/internal/cli"
	"github.com/pairflow/pairflow/tools/internal/progress"
	"github.com/pairflow/pairflow/tools/internal/sheet"
	"github.com/pairflow/pairflow/tools/shardify/internal/convert"
)

const inspectSynopsis = `Usage: shardify inspect DIR [--contact-sheet OUT.png] [--n 64]

Prints what the split in DIR holds: record and shard counts, classes with
their record counts, stored bytes, encodings, and a histogram of image sizes
(by longer side). Reads every record (checking CRCs). With --contact-sheet,
also writes a PNG grid of the first N images with their labels drawn below.
DIR may be s3://... or https://... (see shardify verify).`

// summary of a split, filled by scanning it.
type inspection struct {
	records     int64
	byLabel     map[int32]int64
	unlabelled  int64
	byEncoding  map[string]int64
	payload     int64
	pixels      int64
	sideBuckets [10]int64 // longer side ≤ 16·2^i; last: larger
	sizes       map[[2]int]int64
}

func cmdInspect(fs *cli.FlagSet, args []string, stdout, stderr io.Writer) error {
	var remote cli.Remote
	remote.Register(fs.FlagSet)
	sheet := fs.String("contact-sheet", "", "write a PNG contact sheet of the first N images to this file")
	n := fs.Int("n", 64, "number of images on the contact sheet (1..1024)")
	cell := fs.Int("cell", 96, "thumbnail size in pixels on the contact sheet (16..512)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: inspect takes one directory", cli.ErrUsage)
	}
	if *n < 1 || *n > 1024 || *cell < 16 || *cell > 512 {
		return fmt.Errorf("%w: --n must be 1..1024 and --cell 16..512", cli.ErrUsage)
	}
	dir := pos[0]
	oo, err := remote.OpenOptions()
	if err != nil {
		return err
	}
	d, err := shards.Open(dir, oo)
	if err != nil {
		return fmt.Errorf("inspect %s: %w", dir, err)
	}
	defer d.Close()
	m := d.Manifest()
	in := inspection{byLabel: map[int32]int64{}, byEncoding: map[string]int64{}, sizes: map[[2]int]int64{}}
	it := d.Iter()
	var rec shards.Record
	for it.Next(&rec) {
		in.records++
		if rec.HasLabel {
			in.byLabel[rec.Label]++
		} else {
			in.unlabelled++
		}
		in.byEncoding[rec.Encoding.String()]++
		in.payload += int64(len(rec.Payload))
		in.pixels += int64(rec.PixelLen())
		side := max(rec.Width, rec.Height)
		b := 0
		for b < len(in.sideBuckets)-1 && side > 16<<b {
			b++
		}
		in.sideBuckets[b]++
		in.sizes[[2]int{rec.Width, rec.Height}]++
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("inspect %s: %w", dir, err)
	}
	var shardBytes int64
	for _, s := range m.Shards {
		shardBytes += s.Bytes
	}
	w := stdout
	fmt.Fprintf(w, "split %q in %s: %d records in %d shard(s), %s on disk\n", m.Split, dir, in.records, len(m.Shards), progress.Bytes(shardBytes))
	fmt.Fprintf(w, "payload %s for %s of pixels", progress.Bytes(in.payload), progress.Bytes(in.pixels))
	if in.payload > 0 {
		fmt.Fprintf(w, " (%.2fx)", float64(in.pixels)/float64(in.payload))
	}
	fmt.Fprintf(w, "; dictionary %v, zstd level %d\n", m.Layout.Dictionary, m.Layout.ZstdLevel)
	encs := make([]string, 0, len(in.byEncoding))
	for e := range in.byEncoding {
		encs = append(encs, e)
	}
	sort.Strings(encs)
	fmt.Fprintf(w, "encodings:")
	for _, e := range encs {
		fmt.Fprintf(w, " %s %d", e, in.byEncoding[e])
	}
	fmt.Fprintln(w)
	if len(m.Options) > 0 {
		keys := make([]string, 0, len(m.Options))
		for k := range m.Options {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(w, "options:")
		for _, k := range keys {
			fmt.Fprintf(w, " %s=%s", k, m.Options[k])
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "manifest version %d", m.Version)
	if m.MaxPixels > 0 {
		fmt.Fprintf(w, "; pixel budget %d (the default pipeline's is %d)", m.MaxPixels, int64(imageio.DefaultMaxPixels))
	}
	fmt.Fprintln(w)
	for _, in := range m.Inputs {
		if in.Files > 0 {
			fmt.Fprintf(w, "input %s: %d files, %s, sha256 of the listing %s\n", in.Path, in.Files, progress.Bytes(in.Bytes), in.SHA256)
		} else {
			fmt.Fprintf(w, "input %s: %s, sha256 %s\n", strconv.Quote(in.Path), progress.Bytes(in.Bytes), in.SHA256)
		}
	}
	labels := make([]int32, 0, len(in.byLabel))
	for l := range in.byLabel {
		labels = append(labels, l)
	}
	sort.Slice(labels, func(i, j int) bool { return labels[i] < labels[j] })
	fmt.Fprintf(w, "classes: %d labels", len(labels))
	if in.unlabelled > 0 {
		fmt.Fprintf(w, ", %d unlabelled records", in.unlabelled)
	}
	fmt.Fprintln(w)
	for _, l := range labels {
		fmt.Fprintf(w, "  %4d %-24s %d\n", l, className(m.Classes, l), in.byLabel[l])
	}
	fmt.Fprintln(w, "image size (longer side):")
	var peak int64
	for _, c := range in.sideBuckets {
		peak = max(peak, c)
	}
	for b, c := range in.sideBuckets {
		if c == 0 {
			continue
		}
		lo, hi := 0, 16<<b
		if b > 0 {
			lo = 16<<(b-1) + 1
		}
		label := fmt.Sprintf("%d..%d", lo, hi)
		if b == len(in.sideBuckets)-1 {
			label = fmt.Sprintf(">%d", 16<<(b-1))
		}
		bar := int(math.Ceil(40 * float64(c) / float64(peak)))
		fmt.Fprintf(w, "  %-12s %8d %s\n", label, c, bars(bar))
	}
	type sz struct {
		wh [2]int
		n  int64
	}
	var top []sz
	for k, v := range in.sizes {
		top = append(top, sz{k, v})
	}
	sort.Slice(top, func(i, j int) bool {
		if top[i].n != top[j].n {
			return top[i].n > top[j].n
		}
		return top[i].wh[0] < top[j].wh[0] || (top[i].wh[0] == top[j].wh[0] && top[i].wh[1] < top[j].wh[1])
	})
	fmt.Fprintf(w, "distinct sizes: %d; most common:", len(top))
	for i := 0; i < len(top) && i < 5; i++ {
		fmt.Fprintf(w, " %dx%d (%d)", top[i].wh[0], top[i].wh[1], top[i].n)
	}
	fmt.Fprintln(w)
	if len(m.Skipped) > 0 {
		fmt.Fprintf(w, "skipped inputs: %d (listed in index.json)\n", len(m.Skipped))
	}
	if *sheet != "" {
		k, err := writeContactSheet(d, *sheet, *n, *cell)
		if err != nil {
			return fmt.Errorf("contact sheet: %w", err)
		}
		fmt.Fprintf(w, "contact sheet: %d images in %s\n", k, *sheet)
	}
	return nil
}

func bars(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = '#'
	}
	return string(b)
}

func className(classes []string, l int32) string {
	if l >= 0 && int(l) < len(classes) {
		return classes[l]
	}
	return ""
}

// recordImage returns the decoded pixels of rec.
func recordImage(rec *shards.Record) (*ops.Image, error) {
	if rec.Encoding.IsRaw() {
		pix, err := rec.AppendPixels(nil)
		if err != nil {
			return nil, err
		}
		return &ops.Image{W: rec.Width, H: rec.Height, C: rec.Channels, Stride: rec.Width * rec.Channels, Pix: pix}, nil
	}
	m, _, err := decodeImage(rec.Payload, convert.DefaultMaxPixels)
	return m, err
}

// writeContactSheet draws the first n images of d in a grid of cell×cell
// thumbnails (aspect kept, centred) with "label name" below each.
func writeContactSheet(d *shards.Dataset, out string, n, cell int) (int, error) {
	n = min(n, d.Len())
	if n == 0 {
		return 0, fmt.Errorf("the split has no records")
	}
	cols := int(math.Ceil(math.Sqrt(float64(n))))
	rows := (n + cols - 1) / cols
	const text, pad = 16, 4
	cw, ch := cell+pad, cell+text+pad
	canvas := sheet.New(cols*cw+pad, rows*ch+pad, color.RGBA{32, 32, 32, 255})
	classes := d.Manifest().Classes
	var rec shards.Record
	var scratch ops.Scratch
	for i := 0; i < n; i++ {
		if err := d.Record(i, &rec); err != nil {
			return i, err
		}
		x0, y0 := pad+(i%cols)*cw, pad+(i/cols)*ch
		img, err := recordImage(&rec)
		if err == nil {
			tw, th := fitBox(img.W, img.H, cell)
			t := &ops.Image{}
			err = ops.Resample(&scratch, t, img, tw, th)
			if err == nil {
				canvas.Put(t, x0+(cell-tw)/2, y0+(cell-th)/2)
			}
		}
		label := "-"
		if rec.HasLabel {
			label = strconv.Itoa(int(rec.Label))
			if name := className(classes, rec.Label); name != "" {
				label += " " + name
			}
		}
		if err != nil {
			label = "undecodable"
		}
		if maxc := cell / 7; len(label) > maxc {
			label = label[:maxc]
		}
		canvas.Label(x0, y0+cell+12, label, color.RGBA{240, 240, 240, 255})
	}
	return n, canvas.WritePNG(out)
}

// fitBox scales w×h (up or down) so the longer side is box.
func fitBox(w, h, box int) (int, int) {
	if w >= h {
		return box, max(1, int(math.Round(float64(h)*float64(box)/float64(w))))
	}
	return max(1, int(math.Round(float64(w)*float64(box)/float64(h)))), box
}
