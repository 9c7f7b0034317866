package pipeline_test

import (
	"fmt"
	"log"
	"os"

	"github.com/pairflow/pairflow/pipeline"
	"github.com/pairflow/pairflow/shards"
)

// A split packed with a pixel budget of 100 M pixels (shardify pack
// --max-pixels 100M) is refused by a pipeline with the default budget; one
// whose Config.MaxPixels is at least as large opens it.
func ExampleCheckDataset() {
	dir, err := os.MkdirTemp("", "pipeline-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	w, _ := shards.Create(dir, shards.WriterOptions{Split: "train", MaxPixels: 100_000_000})
	w.Append(&shards.Record{Key: "a", Width: 4, Height: 4, Channels: 1, Encoding: shards.RawS2, Payload: make([]byte, 16)})
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	ds, err := shards.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer ds.Close()
	fmt.Println(pipeline.CheckDataset(ds, 0) != nil)
	fmt.Println(pipeline.CheckDataset(ds, 100_000_000))
	// Output:
	// true
	// <nil>
}
