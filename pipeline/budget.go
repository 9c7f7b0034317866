package pipeline

import (
	"fmt"

	"github.com/pairflow/pairflow/imageio"
	"github.com/pairflow/pairflow/ops"
	"github.com/pairflow/pairflow/shards"
)

// MaxPixelsLimit is the largest Config.MaxPixels: ops.MaxSide squared.
const MaxPixelsLimit = int64(ops.MaxSide) * ops.MaxSide

// CheckBudget returns an error (ErrConfig) when the split was packed with
// a pixel budget above maxPixels (0 means imageio.DefaultMaxPixels): its
// records may be larger than this pipeline decodes. A manifest that records
// no budget (version 1, or a writer that did not set it) passes; its
// records are still checked one by one as they are decoded.
func CheckBudget(m *shards.Manifest, maxPixels int64) error {
	if maxPixels == 0 {
		maxPixels = imageio.DefaultMaxPixels
	}
	if m.MaxPixels > maxPixels {
		return fmt.Errorf("%w: split %q was packed with a pixel budget of %d (index.json max_pixels), above this pipeline's max_pixels of %d: set Config.MaxPixels (JSON \"max_pixels\") to at least %d, or repack with a smaller shardify pack --max-pixels",
			ErrConfig, m.Split, m.MaxPixels, maxPixels, m.MaxPixels)
	}
	return nil
}

// CheckDataset runs the checks New makes of a dataset before it builds
// anything: the split holds records, its pixel budget is within maxPixels
// (see CheckBudget), and one of its first 64 records decodes under that
// budget. shardify verify uses it to tell whether a pipeline can open a
// split.
func CheckDataset(ds *shards.Dataset, maxPixels int64) error {
	if ds == nil {
		return fmt.Errorf("%w: nil dataset", ErrConfig)
	}
	if ds.Len() == 0 {
		return fmt.Errorf("%w: split %q holds no records", ErrConfig, ds.Manifest().Split)
	}
	if err := CheckBudget(ds.Manifest(), maxPixels); err != nil {
		return err
	}
	_, err := probe(ds, maxPixels)
	return err
}

// probe decodes the first of ds's first 64 records that decodes under
// maxPixels, or returns ErrConfig with the last failure.
func probe(ds *shards.Dataset, maxPixels int64) (ops.Image, error) {
	var (
		rec shards.Record
		img ops.Image
		dec = imageio.Decoder{MaxPixels: maxPixels}
		err error
	)
	for i := 0; i < min(ds.Len(), 64); i++ {
		if err = ds.Record(i, &rec); err == nil {
			if err = dec.DecodeRecord(&img, &rec); err == nil {
				return img, nil
			}
		}
	}
	return img, fmt.Errorf("%w: no record among the first 64 decodes: %w", ErrConfig, err)
}
