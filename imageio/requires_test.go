package imageio

import (
	"testing"

	"github.com/pairflow/pairflow/internal/cpu/cputest"
)

// TestGeneratedRequires checks that the generated kernel uses nothing its
// tier does not guarantee.
func TestGeneratedRequires(t *testing.T) {
	cputest.CheckRequires(t, "ycc_amd64.s", nil)
}
