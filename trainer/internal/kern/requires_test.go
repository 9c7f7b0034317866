package kern

import (
	"testing"

	"github.com/pairflow/pairflow/internal/cpu/cputest"
)

// TestGeneratedRequires checks that no generated kernel uses an extension
// its tier does not guarantee.
func TestGeneratedRequires(t *testing.T) {
	cputest.CheckRequires(t, "gen_amd64.s", nil)
}
