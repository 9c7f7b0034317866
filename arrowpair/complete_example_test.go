package arrowpair_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/pairflow/pairflow/arrowpair"
	"github.com/pairflow/pairflow/ops"
)

// rotationBatch builds a one-row rotation batch with the given sample id.
func rotationBatch(id uint64) arrow.RecordBatch {
	l := arrowpair.Layout{Kind: arrowpair.Rotation, DType: arrowpair.Uint8, Shapes: []arrowpair.Shape{{H: 1, W: 1, C: 1}}}
	b, err := arrowpair.NewBatchBuilder(memory.DefaultAllocator, l, 1)
	if err != nil {
		panic(err)
	}
	defer b.Release()
	i, err := b.Append(&arrowpair.Row{SampleID: id, Key: "k", Params: []*ops.Params{nil}})
	if err != nil {
		panic(err)
	}
	b.Uint8(0, i)[0] = 1 // the image (marks the tensor written)
	rec, err := b.NewRecordBatch()
	if err != nil {
		panic(err)
	}
	return rec
}

// A complete stream ends with its summary; a writer that fails leaves a
// stream the reader refuses as incomplete (SCHEMA.md §5.1).
func ExampleStreamSum() {
	a, b := rotationBatch(7), rotationBatch(9)
	var ok, cut bytes.Buffer
	a.Retain() // a goes into both streams
	if _, err := arrowpair.WriteIPC(&ok, a.Schema(), arrowpair.RecordSeq(a, b)); err != nil {
		panic(err)
	}
	a.Retain()
	failing := func(yield func(arrow.RecordBatch, error) bool) {
		if yield(a, nil) && yield(a, nil) { // the first is written, the second held back
			yield(nil, errors.New("disk full"))
		}
	}
	_, err := arrowpair.WriteIPC(&cut, a.Schema(), failing)
	fmt.Println("writer:", err)

	for _, s := range []*bytes.Buffer{&ok, &cut} {
		r, err := arrowpair.ReadIPC(s, nil)
		if err != nil {
			panic(err)
		}
		var sum arrowpair.StreamSum
		for {
			rec, err := r.Next()
			if err == io.EOF {
				fmt.Printf("complete %v: %d batches, %d rows, crc32 %08x\n", r.Complete(), sum.Batches, sum.Rows, sum.CRC32)
				break
			}
			if err != nil {
				fmt.Println("incomplete:", errors.Is(err, arrowpair.ErrTruncated))
				break
			}
			sum.Add(rec)
		}
		r.Release()
	}
	// Output:
	// writer: disk full
	// complete true: 2 batches, 2 rows, crc32 7ce449e6
	// incomplete: true
}
