package pipeline_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pairflow/pairflow/arrowpair"
	"github.com/pairflow/pairflow/internal/s3test"
	"github.com/pairflow/pairflow/pipeline"
	"github.com/pairflow/pairflow/shards"
	"github.com/pairflow/pairflow/store"
)

// TestRemoteSameBatches: the pipeline over a split in S3, reached through
// a proxy that throttles, truncates, flips bytes and stalls, writes the
// same bytes as over the local copy, in both read orders.
func TestRemoteSameBatches(t *testing.T) {
	dir := makeDatasetDir(t, dsOpts{n: 96, maxRecs: 16})
	local, err := shards.Open(dir)
	noErr(t, err)
	defer local.Close()
	var srv *s3test.Server
	srv, err = s3test.NewServer("data")
	noErr(t, err)
	defer srv.Close()
	px, err := s3test.NewProxy(srv.URL, s3test.Faults{SlowDown: 5, Truncate: 7, Flip: 3, Stall: 13, StallTime: 5 * time.Second})
	noErr(t, err)
	defer px.Close()
	so := store.Options{Endpoint: px.URL, PathStyle: true, AccessKey: s3test.AccessKey, SecretKey: s3test.SecretKey,
		BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond, StallTimeout: 300 * time.Millisecond}
	st := must(store.Open("s3://data/ds/train", so))
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		noErr(t, err)
		noErr(t, st.Put(context.Background(), e.Name(), bytes.NewReader(b), int64(len(b)), false))
	}
	for _, order := range []string{pipeline.OrderShuffle, pipeline.OrderShards} {
		cfg := baseConfig(arrowpair.Contrastive)
		cfg.Order, cfg.Epochs = order, 2
		want := runBytes(t, local, cfg)
		remote, err := shards.Open("s3://data/ds/train", shards.OpenOptions{Store: so, CacheDir: t.TempDir(), PrefetchShards: 2})
		noErr(t, err)
		got := runBytes(t, remote, cfg)
		remote.Close()
		if !bytes.Equal(got, want) {
			t.Fatalf("order %v: batches over the faulty store differ from local ones", order)
		}
	}
	if px.Spoiled.Load() == 0 {
		t.Error("no fault injected")
	}
}
