package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/pairflow/pairflow/arrowpair"
	"github.com/pairflow/pairflow/pipeline"
	"github.com/pairflow/pairflow/shards"
)

// testRecipe is a small SimCLR-like recipe: 12×12 float32 views of 3 channels.
const testRecipe = `{"version":1,"name":"test","channels":3,"ops":[
	{"op":"random_resized_crop","size":12,"scale":[0.3,1],"ratio":[0.75,1.3333333333333333]},
	{"op":"random_horizontal_flip","p":0.5},
	{"op":"random_apply","p":0.8,"ops":[{"op":"color_jitter","brightness":0.4,"contrast":0.4,"saturation":0.4,"hue":0.1}]},
	{"op":"random_grayscale","p":0.2}
],"output":{"format":"float32_chw"}}`

// identity16 keeps a 16×16 RGB source as it is (uint8 HWC).
const identity16 = `{"version":1,"channels":3,"ops":[{"op":"resize","size":[16,16]}],"output":{"format":"uint8_hwc"}}`

type dsOpts struct {
	n, w, h, c int
	noLabel    bool
	badPNG     []int // records stored as undecodable "PNG" bytes
	checksum   []int // records whose bytes are flipped after writing (CRC mismatch)
	maxRecs    int   // records per shard (0: default)
}

// pixel is the test pattern: a function of (record, x, y, channel).
func pixel(i, x, y, c int) uint8 { return uint8(i*37 + x*11 + y*5 + c*71 + (x*y)%7) }

// makeDataset writes a split of o.n records to a temporary directory and
// opens it; the dataset is closed when the test ends.
func makeDataset(t testing.TB, o dsOpts) *shards.Dataset {
	t.Helper()
	d, err := shards.Open(makeDatasetDir(t, o))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// makeDatasetDir writes a split of o.n records to a temporary directory and
// returns the directory.
func makeDatasetDir(t testing.TB, o dsOpts) string {
	t.Helper()
	if o.w == 0 {
		o.w, o.h, o.c = 16, 16, 3
	}
	dir := t.TempDir()
	w, err := shards.Create(dir, shards.WriterOptions{Split: "train", MaxShardRecords: o.maxRecs})
	if err != nil {
		t.Fatal(err)
	}
	bad := map[int]bool{}
	for _, i := range o.badPNG {
		bad[i] = true
	}
	pix := make([]byte, o.w*o.h*o.c)
	for i := range o.n {
		for y := range o.h {
			for x := range o.w {
				for c := range o.c {
					pix[(y*o.w+x)*o.c+c] = pixel(i, x, y, c)
				}
			}
		}
		r := &shards.Record{Key: fmt.Sprintf("img/%05d", i), Width: o.w, Height: o.h, Channels: o.c,
			Encoding: shards.RawS2, Payload: pix}
		if !o.noLabel {
			r.Label, r.HasLabel = int32(i%4), true
		}
		if bad[i] {
			r.Encoding, r.Payload, r.Channels = shards.PNG, []byte("\x89PNG\r\n\x1a\n-not-really"), 0
		}
		if err := w.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, i := range o.checksum {
		corruptKey(t, dir, fmt.Sprintf("img/%05d", i))
	}
	return dir
}

// corruptKey flips one byte of a record's key in its shard file, so that
// reading the record fails its checksum.
func corruptKey(t testing.TB, dir, key string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.pfs"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.Index(b, []byte(key)); i >= 0 {
			b[i+len(key)-1] ^= 0x40
			if err := os.WriteFile(f, b, 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("key %s not found", key)
}

func baseConfig(kind arrowpair.Kind) pipeline.Config {
	return pipeline.Config{Kind: kind, BatchSize: 8, Recipe: pipeline.Recipes{testRecipe}, Seed: 42, Epochs: 1, Workers: 2}
}

// streamBytes runs p to the end and returns the IPC stream it wrote.
func streamBytes(t testing.TB, p *pipeline.Pipeline) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := arrowpair.WriteIPC(&buf, p.Schema(), p.Batches(context.Background())); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func runBytes(t testing.TB, ds *shards.Dataset, cfg pipeline.Config) []byte {
	t.Helper()
	p, err := pipeline.New(ds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	return streamBytes(t, p)
}

// batchBytes serialises one batch (its own IPC stream) for comparisons.
func batchBytes(t testing.TB, rec arrow.RecordBatch) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(rec.Schema()))
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// takeBatches serialises the next k batches of p (all if k < 0).
func takeBatches(t testing.TB, p *pipeline.Pipeline, k int) [][]byte {
	t.Helper()
	var out [][]byte
	if k == 0 {
		return nil
	}
	for rec, err := range p.Batches(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, batchBytes(t, rec))
		rec.Release()
		if len(out) == k {
			break
		}
	}
	return out
}

// rows reads every batch of the stream b into a flat list of column values.
type row struct {
	id       uint64
	key      string
	label    int32
	hasLabel bool
	epoch    int64
}

func readRows(t testing.TB, b []byte) []row {
	t.Helper()
	r, err := arrowpair.ReadIPC(bytes.NewReader(b), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	var out []row
	for rec, err := range r.All() {
		if err != nil {
			t.Fatal(err)
		}
		var cols [4][]any
		for c := range 4 {
			js, _ := rec.Column(c).MarshalJSON()
			if err := json.Unmarshal(js, &cols[c]); err != nil {
				t.Fatal(err)
			}
		}
		for i := range int(rec.NumRows()) {
			rw := row{id: uint64(cols[0][i].(float64)), key: cols[1][i].(string), epoch: int64(cols[3][i].(float64))}
			if v, ok := cols[2][i].(float64); ok {
				rw.label, rw.hasLabel = int32(v), true
			}
			out = append(out, rw)
		}
	}
	return out
}

// must returns v, panicking (failing the test binary) on an unexpected error.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func noErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
