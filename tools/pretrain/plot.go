package main

import (
	"fmt"
	"image/color"
	"math"
	"strconv"

	"github.com/pairflow/pairflow/internal/atomicfile"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// plotCurves writes a PNG of the training loss per epoch (top) and the kNN
// monitor's accuracy per epoch (bottom; epoch 0 is the random encoder).
func plotCurves(path, objective string, rows []epochRow) error {
	var loss, knn plotter.XYs
	for _, r := range rows {
		if !math.IsNaN(r.Loss) && r.Epoch > 0 {
			loss = append(loss, plotter.XY{X: float64(r.Epoch), Y: r.Loss})
		}
		if !math.IsNaN(r.KNN) {
			knn = append(knn, plotter.XY{X: float64(r.Epoch), Y: 100 * r.KNN})
		}
	}
	top := plot.New()
	top.Title.Text = fmt.Sprintf("pairflow pretrain (%s): training loss", objective)
	top.X.Label.Text = "epoch"
	top.Y.Label.Text = "mean loss of the epoch"
	if err := addLine(top, loss, color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}); err != nil {
		return err
	}
	bottom := plot.New()
	bottom.Title.Text = "kNN monitor (k=200, cosine, T=0.1) on the test split"
	bottom.X.Label.Text = "epoch (0: random encoder)"
	bottom.Y.Label.Text = "top-1 %"
	if err := addLine(bottom, knn, color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}); err != nil {
		return err
	}
	// One epoch axis for both panels, labelled with plain numbers.
	last := 1.0
	for _, xy := range [...]plotter.XYs{loss, knn} {
		if len(xy) > 0 {
			last = max(last, xy[len(xy)-1].X)
		}
	}
	for _, p := range []*plot.Plot{top, bottom} {
		p.X.Min, p.X.Max = 0, last
		p.X.Tick.Marker = epochTicks{}
	}
	img := vgimg.New(vg.Points(640), vg.Points(640))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadX: vg.Millimeter, PadY: 4 * vg.Millimeter,
		PadTop: 2 * vg.Millimeter, PadBottom: 2 * vg.Millimeter, PadLeft: 2 * vg.Millimeter, PadRight: 4 * vg.Millimeter}
	plots := [][]*plot.Plot{{top}, {bottom}}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	f, err := atomicfile.Create(path, 0o644)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		return err
	}
	return f.Commit()
}

// addLine adds a line with points, or a note when there are none.
func addLine(p *plot.Plot, xy plotter.XYs, c color.Color) error {
	if len(xy) == 0 {
		p.Title.Text += " (not measured)"
		return nil
	}
	l, s, err := plotter.NewLinePoints(xy)
	if err != nil {
		return err
	}
	l.Color, s.Color = c, c
	s.Radius = vg.Points(2)
	p.Add(l, s, plotter.NewGrid())
	return nil
}

// epochTicks is plot.DefaultTicks with labels written as plain numbers
// ("25", not "25.00").
type epochTicks struct{}

func (epochTicks) Ticks(min, max float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = strconv.FormatFloat(ts[i].Value, 'f', -1, 64)
		}
	}
	return ts
}
