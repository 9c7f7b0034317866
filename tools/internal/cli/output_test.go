package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pairflow/pairflow/tools/internal/cli/clitest"
)

func TestWriteJSON(t *testing.T) {
	p := filepath.Join(t.TempDir(), "results.json")
	check := clitest.Replaced(t, p)
	if err := WriteJSON(p, map[string]int{"images": 48}); err != nil {
		t.Fatal(err)
	}
	check()
	if b, _ := os.ReadFile(p); string(b) != "{\n \"images\": 48\n}\n" {
		t.Fatalf("wrote %q", b)
	}
	if err := WriteJSON(p, func() {}); err == nil {
		t.Fatal("a value JSON cannot encode was written")
	}
	if b, _ := os.ReadFile(p); string(b) != "{\n \"images\": 48\n}\n" {
		t.Fatalf("a failed write left %q", b)
	}
}
