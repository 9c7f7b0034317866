package shards_test

import (
	"fmt"
	"log"
	"os"

	"github.com/pairflow/pairflow/internal/s3test"
	"github.com/pairflow/pairflow/shards"
	"github.com/pairflow/pairflow/store"
)

// A split written to and read from S3. The test server stands in for a
// real store; against AWS or MinIO leave Endpoint and the keys empty and set
// AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead.
func ExampleOpen_s3() {
	srv, err := s3test.NewServer("datasets")
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	cfg := store.Options{Endpoint: srv.URL, PathStyle: true, AccessKey: s3test.AccessKey, SecretKey: s3test.SecretKey}

	// Pack: shards are uploaded as they are finished, index.json last.
	w, err := shards.Create("s3://datasets/toy/train", shards.WriterOptions{Split: "train", MaxShardRecords: 2, Store: cfg})
	if err != nil {
		log.Fatal(err)
	}
	for i := range 5 {
		v := uint8(40 * i)
		if err := w.Append(&shards.Record{Key: fmt.Sprintf("img%d", i), Width: 2, Height: 1, Channels: 1,
			Encoding: shards.RawS2, Payload: []byte{v, v + 1}}); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	// Read: shards are fetched into the cache, checked against the
	// manifest's SHA-256, and read from there.
	cache, err := os.MkdirTemp("", "pairflow-cache")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(cache)
	d, err := shards.Open("s3://datasets/toy/train", shards.OpenOptions{Store: cfg, CacheDir: cache})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	var r shards.Record
	if err := d.Record(4, &r); err != nil {
		log.Fatal(err)
	}
	pix, _ := r.AppendPixels(nil)
	fmt.Println(d.Len(), "records in", d.NumShards(), "shards;", r.Key, pix, "; shards downloaded:", d.Fetched())
	// Output: 5 records in 3 shards; img4 [160 161] ; shards downloaded: 1
}
