package kern_test

import (
	"fmt"

	"github.com/pairflow/pairflow/trainer/internal/kern"
)

func ExampleSgemm() {
	// C (2×2) = A (2×3) · Bᵀ, where B is stored 2×3.
	a := []float32{1, 2, 3, 4, 5, 6}
	b := []float32{1, 0, 1, 0, 1, 0}
	c := make([]float32, 4)
	kern.Sgemm(false, true, 2, 2, 3, 1, a, 3, b, 3, 0, c, 2)
	fmt.Println(c)
	// Output: [4 2 10 5]
}

func ExampleConv2d() {
	// One 3×3 image, one 2×2 averaging filter, stride 1, no padding.
	s := kern.ConvShape{N: 1, Cin: 1, H: 3, W: 3, Cout: 1, KH: 2, KW: 2, StrideH: 1, StrideW: 1}
	x := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}
	w := []float32{0.25, 0.25, 0.25, 0.25}
	y := make([]float32, s.OutLen())
	kern.Conv2d(s, x, w, y)
	fmt.Println(s.OutH(), s.OutW(), y)
	// Output: 2 2 [3 4 6 7]
}
