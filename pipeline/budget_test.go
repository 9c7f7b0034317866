package pipeline_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pairflow/pairflow/arrowpair"
	"github.com/pairflow/pairflow/imageio"
	"github.com/pairflow/pairflow/pipeline"
	"github.com/pairflow/pairflow/shards"
)

// budgetDataset writes 4 raw 16×16 records into a split whose manifest
// records the pixel budget maxPixels.
func budgetDataset(t *testing.T, maxPixels int64) *shards.Dataset {
	t.Helper()
	dir := t.TempDir()
	w, err := shards.Create(dir, shards.WriterOptions{Split: "train", MaxPixels: maxPixels})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		w.Append(&shards.Record{Key: fmt.Sprint(i), Width: 16, Height: 16, Channels: 3, Encoding: shards.RawS2, Payload: make([]byte, 16*16*3)})
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	d, err := shards.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// A split packed with a larger pixel budget than the pipeline's is refused
// at New, naming the setting; raising Config.MaxPixels opens it. Today the
// pipeline had no setting and failed record by record.
func TestPixelBudgetFromManifest(t *testing.T) {
	ds := budgetDataset(t, imageio.DefaultMaxPixels+1)
	cfg := baseConfig(arrowpair.Contrastive)
	_, err := pipeline.New(ds, cfg)
	if !errors.Is(err, pipeline.ErrConfig) || !strings.Contains(err.Error(), "max_pixels") || !strings.Contains(err.Error(), "MaxPixels") {
		t.Fatalf("New: %v, want ErrConfig naming max_pixels", err)
	}
	if err := pipeline.CheckDataset(ds, 0); err == nil {
		t.Fatal("CheckDataset passed a split above the default budget")
	}
	cfg.MaxPixels = imageio.DefaultMaxPixels + 1
	p, err := pipeline.New(ds, cfg)
	if err != nil {
		t.Fatalf("with MaxPixels raised: %v", err)
	}
	p.Close()

	// The setting is the decoders' budget: 16×16 records under a budget of
	// 100 pixels do not decode.
	small := budgetDataset(t, 0)
	cfg.MaxPixels = 100
	if _, err := pipeline.New(small, cfg); !errors.Is(err, pipeline.ErrConfig) || !errors.Is(err, imageio.ErrTooLarge) {
		t.Fatalf("records over MaxPixels: %v", err)
	}
	cfg.MaxPixels = -1
	if err := cfg.Validate(); !errors.Is(err, pipeline.ErrConfig) {
		t.Fatalf("negative MaxPixels: %v", err)
	}
}
