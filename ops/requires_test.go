package ops

import (
	"testing"

	"github.com/pairflow/pairflow/internal/cpu/cputest"
)

// TestGeneratedRequires checks that no generated kernel uses an extension
// its tier does not guarantee. The VBMI and VNNI kernels run only where
// haveVBMI and haveVNNI say so (color_amd64.go, resize_amd64.go).
func TestGeneratedRequires(t *testing.T) {
	cputest.CheckRequires(t, "generated_amd64.s", map[string][]string{
		"cfLUT8AVX512":       {"AVX512VBMI"},
		"resizeVVNNIAVX512":  {"AVX512VNNI"},
		"resizeH3P4x2AVX512": {"AVX512VBMI", "AVX512VNNI"},
		"resizeH3Q4x2AVX512": {"AVX512VBMI", "AVX512VNNI"},
	})
}
