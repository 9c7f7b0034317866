// Command preview shows what a recipe does to a dataset: it reads N source
// images from a pairflow shard directory, makes K augmented pairs of each
// with a recipe and a seed, and writes a PNG grid (each source at the left
// of its row, then its pairs) and the drawn parameters as JSON.
//
//	preview --data DIR --recipe simclr-small --seed 1 --n 8 --k 4 --out grid.png [--params params.json]
//
// --recipe is a preset name (see --list), a recipe given inline as JSON
// (starting with "{") or a recipe JSON file (./NAME for a file named like a
// preset). Pair j of sample i is views 0 and 1 of sample i in epoch
// --epoch + j: exactly the views a training run with that seed gets in those
// epochs. The grid shows each view as uint8 pixels before the recipe's float
// conversion. Views smaller than --cell pixels are enlarged by whole-pixel
// repetition.
//
// Exit status: 0 on success, 1 on failure, 2 on a usage error.
package main

import (
	"fmt"
	"image/color"
	"io"
	"os"
	"strings"

	"github.com/pairflow/pairflow/imageio"
	"github.com/pairflow/pairflow/ops"
	"github.com/pairflow/pairflow/shards"
	"github.com/pairflow/pairflow/tools/internal/cli"
	"github.com/pairflow/pairflow/tools/internal/sheet"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `Usage: preview --data DIR [--recipe NAME|JSON|FILE] [--seed S] [--n N] [--k K] [--out grid.png] [flags]

Writes a PNG grid of N source images and K augmented pairs of each, made with
a recipe and a seed, and the drawn parameters as JSON.

Flags:
`

func run(args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("preview", usage, stderr)
	return fs.Exit(preview(fs, args, stdout))
}

type config struct {
	data, recipe, out, params string
	seed, epoch               uint64
	n, k, cell, gap           int
	remote                    cli.Remote
}

func preview(fs *cli.FlagSet, args []string, stdout io.Writer) error {
	var c config
	c.remote.Register(fs.FlagSet)
	var list bool
	fs.StringVar(&c.data, "data", "", "shard directory, or s3://... / https://... (required)")
	fs.StringVar(&c.recipe, "recipe", "simclr-small", "preset name, inline recipe JSON or recipe JSON file")
	fs.StringVar(&c.out, "out", "preview.png", "output PNG")
	fs.StringVar(&c.params, "params", "", "write the drawn parameters here as JSON (default: OUT with .json)")
	fs.Uint64Var(&c.seed, "seed", 0, "seed")
	fs.Uint64Var(&c.epoch, "epoch", 0, "first epoch")
	fs.IntVar(&c.n, "n", 8, "source images (evenly spaced over the dataset)")
	fs.IntVar(&c.k, "k", 4, "augmented pairs per source")
	fs.IntVar(&c.cell, "cell", 96, "minimum cell side in pixels (small views are enlarged)")
	fs.IntVar(&c.gap, "gap", 4, "gap between cells in pixels")
	fs.BoolVar(&list, "list", false, "list the presets and exit")
	if err := fs.Parse(args, 0); err != nil {
		return err
	}
	if list {
		fmt.Fprintln(stdout, strings.Join(ops.Presets(), "\n"))
		return nil
	}
	switch {
	case c.data == "":
		return fmt.Errorf("%w: --data is required", cli.ErrUsage)
	case c.n < 1 || c.n > 1024 || c.k < 1 || c.k > 64:
		return fmt.Errorf("%w: --n must be 1..1024 and --k 1..64", cli.ErrUsage)
	case c.cell < 1 || c.cell > 1024 || c.gap < 0 || c.gap > 64:
		return fmt.Errorf("%w: --cell must be 1..1024 and --gap 0..64", cli.ErrUsage)
	}
	if c.params == "" {
		c.params = strings.TrimSuffix(c.out, ".png") + ".json"
	}
	return render(c)
}

// viewJSON is one view's record in the parameters file.
type viewJSON struct {
	Sample int            `json:"sample"`
	Key    string         `json:"key"`
	Epoch  uint64         `json:"epoch"`
	View   uint32         `json:"view"`
	Width  int            `json:"width"`
	Height int            `json:"height"`
	Params map[string]any `json:"params"`
}

func render(c config) error {
	_, rc, err := cli.Recipe(c.recipe)
	if err != nil {
		return err
	}
	oo, err := c.remote.OpenOptions()
	if err != nil {
		return err
	}
	ds, err := shards.Open(c.data, oo)
	if err != nil {
		return err
	}
	defer ds.Close()
	total := ds.Len()
	if total == 0 {
		return fmt.Errorf("%s: the dataset has no records", c.data)
	}
	n := min(c.n, total)

	var dec imageio.Decoder
	var rec shards.Record
	var s ops.Scratch
	var p ops.Params
	var views []viewJSON
	// rows[i][0] is the source, then 2k views.
	rows := make([][]*ops.Image, n)
	cell := c.cell
	for i := 0; i < n; i++ {
		idx := i * total / n
		if err := ds.Record(idx, &rec); err != nil {
			return fmt.Errorf("%s: record %d: %w", c.data, idx, err)
		}
		src := &ops.Image{}
		if err := dec.DecodeRecord(src, &rec); err != nil {
			return fmt.Errorf("%s: record %d (%s): %w", c.data, idx, rec.Key, err)
		}
		row := []*ops.Image{src}
		for j := 0; j < c.k; j++ {
			for v := uint32(0); v < 2; v++ {
				epoch := c.epoch + uint64(j)
				r := ops.NewRand(c.seed, epoch, uint64(idx), v)
				out, err := rc.Apply(&s, src, &r, &p)
				if err != nil {
					return fmt.Errorf("record %d (%s) epoch %d view %d: %w", idx, rec.Key, epoch, v, err)
				}
				cp := ops.NewImage(out.W, out.H, out.C)
				for y := 0; y < out.H; y++ {
					copy(cp.Row(y), out.Row(y))
				}
				row = append(row, cp)
				cell = max(cell, out.W, out.H)
				views = append(views, viewJSON{Sample: idx, Key: rec.Key, Epoch: epoch, View: v,
					Width: out.W, Height: out.H, Params: ops.ParamsMap(&p)})
			}
		}
		rows[i] = row
	}
	cell = min(cell, 1024)
	if err := writeGrid(c.out, rows, cell, c.gap); err != nil {
		return err
	}
	return cli.WriteJSON(c.params, map[string]any{
		"recipe": rc, "seed": c.seed, "data": c.data, "views": views,
	})
}

// writeGrid lays the rows out on a gray background: the source fitted into
// a cell, a wider gap, then the pairs (a small gap inside a pair).
func writeGrid(path string, rows [][]*ops.Image, cell, gap int) error {
	cols := len(rows[0])
	pairs := (cols - 1) / 2
	W := gap + cell + 3*gap + pairs*(2*cell+gap) + (pairs-1)*2*gap + gap
	H := gap + len(rows)*(cell+gap)
	canvas := sheet.New(W, H, color.RGBA{40, 40, 40, 255})
	for r, row := range rows {
		y0 := gap + r*(cell+gap)
		x := gap
		for j, img := range row {
			canvas.Fit(img, x, y0, cell)
			switch {
			case j == 0:
				x += cell + 3*gap
			case j%2 == 1:
				x += cell + gap
			default:
				x += cell + 3*gap
			}
		}
	}
	return canvas.WritePNG(path)
}
