package inputfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "config.json")
	os.WriteFile(p, []byte(`{"batch_size":8}`), 0o644)
	if b, err := ReadFile(p, 16); err != nil || string(b) != `{"batch_size":8}` {
		t.Fatalf("%q, %v", b, err)
	}
	if _, err := ReadFile(p, 15); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), p) {
		t.Errorf("over the limit: %v", err)
	}
	link := filepath.Join(dir, "link.json")
	os.Symlink(p, link)
	if _, err := ReadFile(link, MaxJSONBytes); err != nil {
		t.Errorf("a symbolic link to a regular file: %v", err)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing.json"), MaxJSONBytes); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
}
