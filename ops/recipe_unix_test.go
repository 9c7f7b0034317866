//go:build unix

package ops

import (
	"errors"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/pairflow/pairflow/internal/inputfile"
)

// LoadRecipe refuses what is not a regular file at once: a FIFO would block
// it, a device be read up to the size limit.
func TestLoadRecipeNotRegular(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "recipe.json")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("no FIFOs:", err)
	}
	for _, p := range []string{fifo, "/dev/zero"} {
		if _, err := LoadRecipe(p); !errors.Is(err, inputfile.ErrNotRegular) {
			t.Errorf("%s: %v", p, err)
		}
	}
}
