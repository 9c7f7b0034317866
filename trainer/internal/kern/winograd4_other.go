//go:build !amd64 || purego || noasm

package kern

import "github.com/pairflow/pairflow/internal/cpu"

func wino4InCols(_ cpu.Tier, d []float32, ds, n int, x []float32, xs int) {
	wino4InColsGo(d, ds, n, x, xs)
}

func wino4OutCols(_ cpu.Tier, m []float32, ms, n int, y []float32, ys int) {
	wino4OutColsGo(m, ms, n, y, ys)
}

func setWino4ZMM(bool) bool { return false }

func wino4GatherTile(_ cpu.Tier, p []float32, pw, th, tw int, d []float32, ds int) {
	wino4GatherGo(p, pw, th, tw, d, ds)
}

func wino4GatherOutTile(_ cpu.Tier, p []float32, pw, th, tw int, d []float32, ds int) {
	wino4GatherOutGo(p, pw, th, tw, d, ds)
}

func wino4GradOutCols(_ cpu.Tier, g []float32, gs, n int, x []float32, xs int) {
	wino4GradOutColsGo(g, gs, n, x, xs)
}
