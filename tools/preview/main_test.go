package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pairflow/pairflow/shards"
	"github.com/pairflow/pairflow/tools/internal/cli/clitest"
)

func writeDataset(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	w, err := shards.Create(dir, shards.WriterOptions{Split: "train"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		pix := make([]byte, 40*30*3)
		for j := range pix {
			pix[j] = byte(i*31 + j*7)
		}
		rec := shards.Record{Key: "img" + string(rune('a'+i)), Width: 40, Height: 30, Channels: 3,
			Encoding: shards.RawS2, Payload: pix}
		if err := w.Append(&rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestPreview(t *testing.T) {
	data := writeDataset(t, 5)
	out := filepath.Join(t.TempDir(), "grid.png")
	replaced := clitest.Replaced(t, strings.TrimSuffix(out, ".png")+".json")
	var so, se bytes.Buffer
	code := run([]string{"--data", data, "--recipe", "inpainting-fmnist", "--seed", "3", "--n", "3", "--k", "2", "--cell", "28", "--gap", "2", "--out", out}, &so, &se)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	// 3 rows of 28-pixel cells (the source is fitted in), 2 pairs.
	if b := img.Bounds(); b.Dy() != 2+3*(28+2) || b.Dx() != 2+28+6+2*(56+2)+2*2+2 {
		t.Fatalf("grid %v", b)
	}
	replaced()
	js, err := os.ReadFile(strings.TrimSuffix(out, ".png") + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Views []viewJSON `json:"views"`
	}
	if err := json.Unmarshal(js, &meta); err != nil {
		t.Fatal(err)
	}
	if len(meta.Views) != 3*2*2 {
		t.Fatalf("%d views in the JSON", len(meta.Views))
	}
	v := meta.Views[0]
	if v.Width != 28 || v.Height != 28 || v.Params["crop"] == nil || v.Params["hflip"] == nil {
		t.Fatalf("view record %+v", v)
	}
	// The same command gives the same bytes.
	out2 := filepath.Join(t.TempDir(), "grid.png")
	run([]string{"--data", data, "--recipe", "inpainting-fmnist", "--seed", "3", "--n", "3", "--k", "2", "--cell", "28", "--gap", "2", "--out", out2}, &so, &se)
	a, _ := os.ReadFile(out)
	b, _ := os.ReadFile(out2)
	if !bytes.Equal(a, b) {
		t.Fatal("preview is not deterministic")
	}
}

func TestPreviewUsage(t *testing.T) {
	var so, se bytes.Buffer
	for _, args := range [][]string{{}, {"--data", "x", "--n", "0"}, {"--data", "x", "extra"}} {
		if code := run(args, &so, &se); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code := run([]string{"--data", t.TempDir()}, &so, &se); code != 1 {
		t.Errorf("empty dir: exit %d, want 1", code)
	}
	if code := run([]string{"--data", writeDataset(t, 1), "--recipe", "nope"}, &so, &se); code != 2 {
		t.Errorf("bad recipe: exit %d, want 2", code)
	}
	if code := run([]string{"--list"}, &so, &se); code != 0 || !strings.Contains(so.String(), "torchvision-a") {
		t.Errorf("--list: exit %d, %q", code, so.String())
	}
}

// TestUsageText: --help exits 0 with the usage text; an unknown flag, a bad
// value (found by the flag package or later), and a stray argument exit 2
// with the usage text and one line.
func TestUsageText(t *testing.T) {
	clitest.Usage(t, "preview", "Usage: preview", func(args []string, stdout, stderr *bytes.Buffer) int {
		return run(args, stdout, stderr)
	},
		[]string{"--bogus"}, []string{"--n", "x"}, []string{"--data", "x", "--n", "0"}, []string{"--data", "x", "extra"})
}
