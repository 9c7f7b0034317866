package pipeline_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/pairflow/pairflow/arrowpair"
	"github.com/pairflow/pairflow/pipeline"
	"github.com/pairflow/pairflow/shards"
)

// A contrastive (SimCLR) stream of two 32×32 views per image, checkpointed
// after the first batch and resumed with another worker count. Ten records
// fill three batches of four: the epoch wraps around to its first two.
func ExamplePipeline() {
	dir, err := os.MkdirTemp("", "pipeline-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	w, _ := shards.Create(dir, shards.WriterOptions{Split: "train"})
	pix := make([]byte, 28*28)
	for i := range 10 {
		for j := range pix {
			pix[j] = byte(i + j)
		}
		w.Append(&shards.Record{Key: fmt.Sprintf("img%d", i), Label: int32(i % 2), HasLabel: true,
			Width: 28, Height: 28, Channels: 1, Encoding: shards.RawZstd, Payload: pix})
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	ds, err := shards.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer ds.Close()

	cfg := pipeline.Config{Kind: arrowpair.Contrastive, BatchSize: 4, Recipe: pipeline.Recipes{"torchvision-a"},
		Seed: 1, Epochs: 1, Workers: 2}
	p, err := pipeline.New(ds, cfg)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Layout().Shapes, "rows per epoch:", p.Len())
	var state pipeline.State
	for b, err := range p.Batches(context.Background()) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("batch of", b.NumRows(), "records", b.Column(0).(*array.Uint64).Uint64Values())
		b.Release()
		state = p.State() // counts the batch just handed out
		break
	}
	p.Close()

	cfg.Workers = 1 // does not change the stream
	r, err := pipeline.Resume(ds, cfg, state)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	for b, err := range r.Batches(context.Background()) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("resumed batch of", b.NumRows(), "records", b.Column(0).(*array.Uint64).Uint64Values())
		b.Release()
	}
	// Output:
	// [{32 32 3} {32 32 3}] rows per epoch: 12
	// batch of 4 records [2 0 3 1]
	// resumed batch of 4 records [8 5 4 6]
	// resumed batch of 4 records [7 9 2 0]
}
