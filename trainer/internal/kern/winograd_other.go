//go:build !amd64 || purego || noasm

package kern

import "github.com/pairflow/pairflow/internal/cpu"

func winoInTile(_ cpu.Tier, p []float32, pw, th, tw int, dst []float32, xs int) {
	winoInTileGo(p, pw, th, tw, dst, xs)
}

func winoOutTile(_ cpu.Tier, m []float32, ms, th, tw int, y []float32, yw int) {
	winoOutTileGo(m, ms, th, tw, y, yw)
}

func winoOutDense(cpu.Tier, []float32, int, int, int, []float32) bool { return false }

func winoGradOutTile(_ cpu.Tier, r0, r1 []float32, n int, dst []float32, xs int) {
	winoGradOutTileGo(r0, r1, n, dst, xs)
}
