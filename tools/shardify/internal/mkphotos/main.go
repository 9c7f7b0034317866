// Command mkphotos builds the benchmark photo folder of scripts/benchdata.sh
// from the photographs in Debian's wallpaper packages. It is a data script,
// not part of the shipped shardify command (it hard-codes the wallpaper
// paths); run it with
//
//	go run ./tools/shardify/internal/mkphotos --out DIR [--n 2000] [--seed 0]
//
// Exit status: 0 on success, 2 for a usage error, 1 for any other failure.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/sourcegraph/conc/stream"

	"github.com/pairflow/pairflow/imageio"
	"github.com/pairflow/pairflow/ops"
	"github.com/pairflow/pairflow/tools/internal/cli"
	"github.com/pairflow/pairflow/tools/shardify/internal/convert"
)

// photoSources are the real photographs in Debian's wallpaper packages
// (mate-backgrounds, plasma-workspace-wallpapers, lomiri-wallpapers-20.04),
// the same list as the PyTorch peer's photo script uses (docs/benchmarks.md).
var photoSources = []string{
	"/usr/share/backgrounds/mate/nature/Aqua.jpg",
	"/usr/share/backgrounds/mate/nature/Blinds.jpg",
	"/usr/share/backgrounds/mate/nature/Dune.jpg",
	"/usr/share/backgrounds/mate/nature/FreshFlower.jpg",
	"/usr/share/backgrounds/mate/nature/Garden.jpg",
	"/usr/share/backgrounds/mate/nature/GreenMeadow.jpg",
	"/usr/share/backgrounds/mate/nature/LadyBird.jpg",
	"/usr/share/backgrounds/mate/nature/RainDrops.jpg",
	"/usr/share/backgrounds/mate/nature/Storm.jpg",
	"/usr/share/backgrounds/mate/nature/TwoWings.jpg",
	"/usr/share/backgrounds/mate/nature/Wood.jpg",
	"/usr/share/backgrounds/mate/nature/YellowFlower.jpg",
	"/usr/share/wallpapers/BytheWater/contents/images/2560x1600.jpg",
	"/usr/share/wallpapers/ColdRipple/contents/images/2560x1600.jpg",
	"/usr/share/wallpapers/ColorfulCups/contents/images/2560x1600.jpg",
	"/usr/share/wallpapers/DarkestHour/contents/images/2560x1600.jpg",
	"/usr/share/wallpapers/EveningGlow/contents/images/2560x1600.jpg",
	"/usr/share/wallpapers/FallenLeaf/contents/images/2560x1600.jpg",
	"/usr/share/wallpapers/Grey/contents/images/2560x1600.jpg",
	"/usr/share/wallpapers/Kite/contents/images/2560x1600.jpg",
	"/usr/share/wallpapers/OneStandsOut/contents/images/2560x1600.jpg",
	"/usr/share/wallpapers/Path/contents/images/2560x1600.jpg",
	"/usr/share/wallpapers/summer_1am/contents/images/2560x1600.jpg",
	"/usr/share/backgrounds/Infinite-Sea_by_Aury88.jpg",
	"/usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg",
}

const synopsis = `Usage: mkphotos --out DIR [--n 2000] [--seed 0] [--quality 90]

Builds an ImageNet-like ImageFolder of JPEG photos from the photographs in
Debian's wallpaper packages, deterministically (same seed, same files):
DIR/class_XX/img_NNNNN.jpg in 10 classes, each a seeded random crop (area
10%..100% of the largest crop of the drawn aspect ratio, aspect log-uniform
in [1, 5/3], portrait 25% of the time) downscaled with Lanczos-3 so that the
shorter side is uniform in 256..500, saved as JPEG (4:2:0). Image i comes
from source photo i mod #sources and goes to class (i mod #sources) mod 10,
as in the PyTorch peer's photo script. DIR/SOURCES.txt lists each crop.`

// shrink resamples a crop to its output size with Pillow's antialiased
// Lanczos-3 (ops.Lanczos3), as the peer's photo script does with PIL.
func shrink(crop *ops.Image, w, h int) (*ops.Image, error) {
	var s ops.Scratch // Lanczos3 does not use it
	m := &ops.Image{}
	return m, ops.ResampleFilter(&s, m, crop, w, h, ops.Lanczos3)
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command; it returns the exit code (2 for a usage error, 1 for
// a failure).
func run(args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("mkphotos", synopsis+"\n\nFlags:\n", stderr)
	return fs.Exit(command(fs, args, stdout, stderr))
}

func command(fs *cli.FlagSet, args []string, stdout, stderr io.Writer) error {
	out := fs.String("out", "", "output folder (required)")
	n := fs.Int("n", 2000, "number of photos")
	seed := fs.Uint64("seed", 0, "random seed")
	quality := fs.Int("quality", 90, "JPEG quality")
	workers := fs.Int("workers", 2, "parallel goroutines (output does not depend on it)")
	maxSources := fs.Int("max-sources", len(photoSources), "use only the first K source photos (for quick tests)")
	if err := fs.Parse(args, 0); err != nil {
		return err
	}
	if *out == "" || *n < 1 || *quality < 1 || *quality > 100 || *workers < 1 {
		return fmt.Errorf("%w: mkphotos needs --out, --n ≥ 1, --quality 1..100, --workers ≥ 1", cli.ErrUsage)
	}
	var srcs []*ops.Image
	var names []string
	for _, p := range photoSources[:max(1, min(*maxSources, len(photoSources)))] {
		b, err := os.ReadFile(p)
		if err != nil {
			fmt.Fprintf(stderr, "mkphotos: missing %s (install mate-backgrounds plasma-workspace-wallpapers lomiri-wallpapers-20.04)\n", p)
			continue
		}
		m := &ops.Image{}
		if err := (&imageio.Decoder{Channels: 3}).Decode(m, b); err != nil { // gray photos become RGB, as PIL's convert("RGB")
			return fmt.Errorf("%s: %w", p, err)
		}
		srcs, names = append(srcs, m), append(names, p)
	}
	if len(srcs) == 0 {
		return errors.New("no source photos found")
	}
	const nclass = 10
	for c := 0; c < nclass; c++ {
		if err := os.MkdirAll(filepath.Join(*out, fmt.Sprintf("class_%02d", c)), 0o755); err != nil {
			return err
		}
	}
	// All random draws happen here, in order, so the plan depends only on
	// the seed; the workers only resize and encode.
	rng := rand.New(rand.NewPCG(*seed, 0x70616972666c6f77))
	type job struct {
		i, si, x, y, cw, ch, tw, th int
		rel                         string
	}
	jobs := make([]job, *n)
	for i := range jobs {
		si := i % len(srcs)
		W, H := srcs[si].W, srcs[si].H
		ar := math.Exp(rng.Float64() * math.Log(5.0/3.0))
		if rng.Float64() < 0.25 {
			ar = 1 / ar
		}
		short := 256 + rng.IntN(500-256+1)
		cwMax := math.Min(float64(W), float64(H)*ar)
		chMax := cwMax / ar
		minScale := math.Max(float64(short)/math.Min(cwMax, chMax), math.Sqrt(0.1))
		s := 1.0
		if minScale < 1 {
			s = minScale + rng.Float64()*(1-minScale)
		}
		cw, ch := int(cwMax*s), int(chMax*s)
		x := rng.IntN(W - cw + 1)
		y := rng.IntN(H - ch + 1)
		var tw, th int
		if cw <= ch {
			tw, th = short, max(1, int(math.Round(float64(ch)*float64(short)/float64(cw))))
		} else {
			th, tw = short, max(1, int(math.Round(float64(cw)*float64(short)/float64(ch))))
		}
		rel := fmt.Sprintf("class_%02d/img_%05d.jpg", si%nclass, i)
		jobs[i] = job{i, si, x, y, cw, ch, tw, th, rel}
	}
	log := make([]string, 0, len(jobs))
	var total int64
	var firstErr error
	st := stream.New().WithMaxGoroutines(*workers)
	for _, j := range jobs {
		st.Go(func() stream.Callback {
			src := srcs[j.si]
			crop := src.Sub(j.x, j.y, j.cw, j.ch)
			m, err := shrink(&crop, j.tw, j.th)
			var b []byte
			if err == nil {
				b, err = convert.EncodeJPEG(m, *quality)
			}
			if err == nil {
				err = os.WriteFile(filepath.Join(*out, filepath.FromSlash(j.rel)), b, 0o644)
			}
			return func() {
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("%s: %w", j.rel, err)
				}
				total += int64(len(b))
				log = append(log, fmt.Sprintf("%s\t%s\t%d,%d,%d,%d\t%dx%d", j.rel, names[j.si], j.x, j.y, j.cw, j.ch, j.tw, j.th))
			}
		})
	}
	st.Wait()
	if firstErr != nil {
		return firstErr
	}
	f, err := os.Create(filepath.Join(*out, "SOURCES.txt"))
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	fmt.Fprintf(bw, "# file\tsource\tcrop x,y,w,h\toutput WxH\n%s\n", strings.Join(log, "\n"))
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "mkphotos: wrote %d JPEGs from %d photos to %s; mean %.1f KB\n", len(jobs), len(srcs), *out, float64(total)/float64(len(jobs))/1024)
	return nil
}
