package cli

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pairflow/pairflow/internal/inputfile"
	"github.com/pairflow/pairflow/ops"
)

func TestRecipe(t *testing.T) {
	dir := t.TempDir()
	preset, _ := ops.Preset("inpainting-fmnist")
	js, err := json.Marshal(preset)
	if err != nil {
		t.Fatal(err)
	}
	inline := string(js)
	file := filepath.Join(dir, "mine.json")
	os.WriteFile(file, []byte("\n"+inline+"\n"), 0o644)
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"version":1}`), 0o644)
	for _, c := range []struct {
		value, text string
	}{
		{"simclr-small", "simclr-small"},
		{" " + inline, inline},
		{file, inline},
	} {
		text, r, err := Recipe(c.value)
		if err != nil || text != c.text || r == nil {
			t.Errorf("Recipe(%q) = %q, %v, %v; want %q", c.value, text, r, err, c.text)
		}
	}
	for _, c := range []struct {
		value string
		usage bool
		says  string
	}{
		{"simclr-smal", true, "neither a preset"},
		{filepath.Join(dir, "missing.json"), true, "missing.json"},
		{`{"version":`, true, "inline"},
		{bad, false, "bad.json"},
		{dir, false, "not a regular file"},
	} {
		_, _, err := Recipe(c.value)
		if err == nil || errors.Is(err, ErrUsage) != c.usage || !strings.Contains(err.Error(), c.says) {
			t.Errorf("Recipe(%q): %v; want an error saying %q, usage error %v", c.value, err, c.says, c.usage)
		}
	}
	big := filepath.Join(dir, "big.json")
	os.WriteFile(big, make([]byte, inputfile.MaxJSONBytes+1), 0o644)
	if _, _, err := Recipe(big); !errors.Is(err, inputfile.ErrTooLarge) || errors.Is(err, ErrUsage) {
		t.Errorf("a recipe file over 16 MiB: %v", err)
	}
}
