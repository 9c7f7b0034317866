//go:build amd64 && !purego && !noasm

package ops

import "github.com/pairflow/pairflow/internal/cpu"

// cfSolarizeAVX2 is generated: ops/_generate/solarize.go, declared in
// generated_amd64.go.

func cfSolarizeRow(p []uint8, th uint8) {
	if tier >= cpu.AVX2 {
		if n := len(p) &^ 31; n > 0 {
			cfSolarizeAVX2(&p[0], n, th)
			p = p[n:]
		}
	}
	cfSolarizeRef(p, th)
}
