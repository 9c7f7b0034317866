package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log"
	"os"

	"github.com/pairflow/pairflow/internal/s3test"
	"github.com/pairflow/pairflow/store"
)

// An object put into S3, fetched into the cache once and then served from
// it. The test server stands in for a real store.
func ExampleCache_Get() {
	srv, err := s3test.NewServer("bucket")
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	s, err := store.Open("s3://bucket/datasets/train", store.Options{Endpoint: srv.URL, PathStyle: true,
		AccessKey: s3test.AccessKey, SecretKey: s3test.SecretKey})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	data := []byte("shard bytes")
	if err := s.Put(ctx, "train-00000.pfs", bytes.NewReader(data), int64(len(data)), true); err != nil {
		log.Fatal(err)
	}
	sum := sha256.Sum256(data) // what a manifest records
	dir, err := os.MkdirTemp("", "cache")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	c, err := store.OpenCache(dir, 1<<30)
	if err != nil {
		log.Fatal(err)
	}
	for range 2 {
		path, fetched, err := c.Get(ctx, s, "train-00000.pfs", int64(len(data)), hex.EncodeToString(sum[:]))
		if err != nil {
			log.Fatal(err)
		}
		b, _ := os.ReadFile(path)
		fmt.Printf("%s fetched=%v\n", b, fetched)
	}
	// Output:
	// shard bytes fetched=true
	// shard bytes fetched=false
}
