package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "metrics.csv")
	for _, content := range []string{"first\n", "second, longer\n", ""} {
		if err := WriteFile(p, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil || string(b) != content {
			t.Fatalf("read back %q, %v; want %q", b, err, content)
		}
		if st, _ := os.Stat(p); st.Mode().Perm() != 0o640 {
			t.Errorf("mode %v, want 0640", st.Mode().Perm())
		}
		if got := names(t, dir); !slices.Equal(got, []string{"metrics.csv"}) {
			t.Fatalf("directory holds %q", got)
		}
	}
	if err := WriteFile(filepath.Join(dir, "nowhere", "x"), nil, 0o644); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing directory: %v", err)
	}
}

// The file is synced before the rename and the directory after it.
func TestCommitOrder(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "ckpt")
	var events []string
	syncFile = func(f *os.File) error {
		_, err := os.Stat(p)
		events = append(events, fmt.Sprintf("sync %v (target exists: %v)", f.Name() == dir, err == nil))
		return f.Sync()
	}
	defer func() { syncFile = (*os.File).Sync }()
	if err := WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := []string{"sync false (target exists: false)", "sync true (target exists: true)"}
	if !slices.Equal(events, want) {
		t.Fatalf("events %q, want %q (file synced before the rename, directory after)", events, want)
	}
	// A failed file sync leaves the target untouched and no temporary file.
	syncFile = func(*os.File) error { return errors.New("EIO") }
	if err := WriteFile(p, []byte("new"), 0o644); err == nil {
		t.Fatal("a failed fsync was not reported")
	}
	if b, _ := os.ReadFile(p); string(b) != "x" {
		t.Fatalf("target %q after a failed write", b)
	}
	if got := names(t, dir); !slices.Equal(got, []string{"ckpt"}) {
		t.Fatalf("directory holds %q", got)
	}
}

func TestAbortAndCrash(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "results.json")
	if err := WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Create(p, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("half of the new"))
	if err := f.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := f.Abort(); err != nil {
		t.Fatal("second Abort:", err)
	}
	if _, err := f.Write([]byte("x")); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Write after Abort: %v", err)
	}
	if err := f.Commit(); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Commit after Abort: %v", err)
	}
	if got := names(t, dir); !slices.Equal(got, []string{"results.json"}) {
		t.Fatalf("after Abort the directory holds %q", got)
	}
	// A writer killed before Commit leaves the old file and a temporary
	// file that RemoveTemps finds.
	f, err = Create(p, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("half"))
	f.f.Close() // the process dies here
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Fatalf("target %q while a write is in progress", b)
	}
	os.WriteFile(filepath.Join(dir, ".hidden"), nil, 0o644)
	removed, err := RemoveTemps(dir)
	if err != nil || len(removed) != 1 || !IsTemp(removed[0]) {
		t.Fatalf("RemoveTemps: %q, %v", removed, err)
	}
	if got := names(t, dir); !slices.Equal(got, []string{".hidden", "results.json"}) {
		t.Fatalf("after RemoveTemps the directory holds %q", got)
	}
	// Committing onto a directory fails and leaves no temporary file.
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	if err := WriteFile(filepath.Join(dir, "sub"), []byte("x"), 0o644); err == nil {
		t.Fatal("rename over a directory succeeded")
	}
	if got := names(t, dir); !slices.Equal(got, []string{".hidden", "results.json", "sub"}) {
		t.Fatalf("after a failed rename the directory holds %q", got)
	}
}

func ExampleCreate() {
	dir, _ := os.MkdirTemp("", "atomicfile-example-")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "table.md")
	f, err := Create(path, 0o644)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Abort() // drops the temporary file if Commit is not reached
	fmt.Fprintln(f, "| method | top-1 |")
	if err := f.Commit(); err != nil {
		fmt.Println(err)
		return
	}
	b, _ := os.ReadFile(path)
	fmt.Print(string(b))
	// Output: | method | top-1 |
}

// CreateNew: of several writers of one path exactly one commits; the
// others get fs.ErrExist and leave no temporary file; an existing file is
// never replaced. Both ways: renameat2 and the link(2) fallback.
func TestCreateNew(t *testing.T) {
	defer func(v bool) { useRenameat2 = v }(useRenameat2)
	for _, rename2 := range []bool{true, false} {
		useRenameat2 = rename2
		dir := t.TempDir()
		p := filepath.Join(dir, "object")
		const n = 8
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f, err := CreateNew(p, 0o644)
				if err != nil {
					errs <- err
					return
				}
				defer f.Abort()
				fmt.Fprintf(f, "writer %d", i)
				errs <- f.Commit()
			}()
		}
		wg.Wait()
		close(errs)
		won := 0
		for err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, fs.ErrExist):
				t.Errorf("renameat2 %v: %v", rename2, err)
			}
		}
		b, _ := os.ReadFile(p)
		if won != 1 || !strings.HasPrefix(string(b), "writer ") {
			t.Fatalf("renameat2 %v: %d writers committed, the file holds %q", rename2, won, b)
		}
		if got := names(t, dir); !slices.Equal(got, []string{"object"}) {
			t.Fatalf("renameat2 %v: directory holds %q", rename2, got)
		}
		f, err := CreateNew(p, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte("later"))
		if err := f.Commit(); !errors.Is(err, fs.ErrExist) {
			t.Fatalf("renameat2 %v: a commit over an existing file: %v", rename2, err)
		}
		if b2, _ := os.ReadFile(p); string(b2) != string(b) {
			t.Fatalf("renameat2 %v: existing file now %q", rename2, b2)
		}
	}
}
