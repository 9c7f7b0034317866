package evalkit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pairflow/pairflow/shards"
	"github.com/pairflow/pairflow/trainer"
)

// pixel is the test pattern of record i.
func pixel(i, x, y int) uint8 { return uint8(i*37 + x*11 + y*5 + (x*y)%7) }

// makeDataset packs n gray side×side records (label i%classes, none for
// every record in noLabel) and opens it.
func makeDataset(t testing.TB, n, side, classes int, noLabel map[int]bool) *shards.Dataset {
	t.Helper()
	dir := t.TempDir()
	w, err := shards.Create(dir, shards.WriterOptions{Split: "train", MaxShardRecords: 16})
	if err != nil {
		t.Fatal(err)
	}
	pix := make([]byte, side*side)
	for i := range n {
		for y := range side {
			for x := range side {
				pix[y*side+x] = pixel(i, x, y)
			}
		}
		r := &shards.Record{Key: fmt.Sprintf("img/%05d", i), Width: side, Height: side, Channels: 1,
			Encoding: shards.RawS2, Payload: pix}
		if !noLabel[i] {
			r.Label, r.HasLabel = int32(i%classes), true
		}
		if err := w.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ds, err := shards.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ds.Close() })
	return ds
}

// perturbBN gives every BatchNorm non-trivial running statistics, so that
// evaluation mode differs visibly from training mode.
func perturbBN(enc *trainer.Encoder[float32], seed uint64) {
	r := trainer.NewRNG(seed)
	trainer.Walk[float32](enc, func(l trainer.Layer[float32]) {
		if b, ok := l.(*trainer.BatchNorm[float32]); ok {
			for i := range b.RunningMean.Data {
				b.RunningMean.Data[i] = float32(r.Uniform(-0.3, 0.3))
				b.RunningVar.Data[i] = float32(r.Uniform(0.5, 2))
			}
		}
	})
}

func bnModes(enc *trainer.Encoder[float32]) []bool {
	var m []bool
	trainer.Walk[float32](enc, func(l trainer.Layer[float32]) {
		if b, ok := l.(*trainer.BatchNorm[float32]); ok {
			m = append(m, b.Train)
		}
	})
	return m
}

func TestFeaturesMatchDirectForward(t *testing.T) {
	const n, side, classes = 37, 12, 4
	noLabel := map[int]bool{5: true, 30: true}
	ds := makeDataset(t, n, side, classes, noLabel)
	enc, err := trainer.NewEncoder("smallcnn", "enc.", 1, trainer.NewRNG(3))
	if err != nil {
		t.Fatal(err)
	}
	perturbBN(enc, 9)
	mean, std := float32(0.2860), float32(0.3530)
	recipe := EvalRecipe(side, 1, []float64{0.2860}, []float64{0.3530})

	enc.SetTraining(true) // as mid-training
	feats, labels, err := Features(context.Background(), ds, enc, recipe, 8, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range bnModes(enc) {
		if !m {
			t.Fatalf("BatchNorm %d left in evaluation mode; Features must restore training mode", i)
		}
	}

	// The reference: the stored pixels, normalised by the formula, one
	// forward pass of the whole set in evaluation mode.
	x := trainer.NewTensor[float32](n, 1, side, side)
	for i := range n {
		for y := range side {
			for xx := range side {
				x.Data[i*side*side+y*side+xx] = (float32(pixel(i, xx, y))/255 - mean) / std
			}
		}
	}
	enc.SetTraining(false)
	want := enc.Forward(x)
	if len(feats) != n*enc.Dim || len(labels) != n {
		t.Fatalf("got %d features, %d labels; want %d, %d", len(feats), len(labels), n*enc.Dim, n)
	}
	maxDiff := 0.0
	for i, v := range want.Data {
		maxDiff = max(maxDiff, math.Abs(float64(v-feats[i])))
	}
	if maxDiff > 1e-5 {
		t.Errorf("features differ from a direct forward by up to %g", maxDiff)
	}
	for i, l := range labels {
		w := int32(i % classes)
		if noLabel[i] {
			w = -1
		}
		if l != w {
			t.Errorf("label %d = %d, want %d", i, l, w)
		}
	}
	// In training mode (batch statistics) the features are different: the
	// comparison above did test evaluation mode.
	enc.SetTraining(true)
	train := enc.Forward(x)
	diff := 0.0
	for i, v := range train.Data {
		diff = max(diff, math.Abs(float64(v-feats[i])))
	}
	if diff < 1e-3 {
		t.Errorf("training-mode features equal the evaluation ones (max diff %g): the test is blind", diff)
	}
}

func TestFeaturesErrors(t *testing.T) {
	ds := makeDataset(t, 10, 12, 2, nil)
	enc, _ := trainer.NewEncoder("smallcnn", "enc.", 3, trainer.NewRNG(1))
	// 1-channel views for a 3-channel encoder.
	_, _, err := Features(context.Background(), ds, enc, EvalRecipe(12, 1, nil, nil), 4, 1)
	if !errors.Is(err, ErrFeatures) {
		t.Errorf("channel mismatch: err %v, want ErrFeatures", err)
	}
	_, _, err = Features(context.Background(), ds, enc, "no-such-preset", 4, 1)
	if err == nil || !strings.Contains(err.Error(), "no-such-preset") {
		t.Errorf("unknown recipe: err %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	enc1, _ := trainer.NewEncoder("smallcnn", "enc.", 1, trainer.NewRNG(1))
	if _, _, err = Features(ctx, ds, enc1, EvalRecipe(12, 1, nil, nil), 4, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: err %v", err)
	}
}

const testConfig = `{"model":"smallcnn","channels":1,"size":28,"objective":"simclr","recipe":"fmnist-simclr-v1","epochs":50,"lr":0.24}`

// saveSimCLR writes a SimCLR checkpoint (encoder + projection head +
// optimiser state) with config and returns its path and the model.
func saveSimCLR(t *testing.T, config string) (string, *trainer.SimCLR) {
	t.Helper()
	s, err := trainer.NewSimCLR(trainer.Config{Model: "smallcnn", Channels: 1, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	perturbBN(s.Encoder, 4)
	path := filepath.Join(t.TempDir(), "ckpt.safetensors")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := trainer.SaveCheckpoint(f, s.Model(), s.Opt, 117, config); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, s
}

func TestLoadEncoderRoundTrip(t *testing.T) {
	for _, config := range []string{testConfig, `{"objective":"simclr"}`} {
		path, s := saveSimCLR(t, config)
		enc, meta, err := LoadEncoder(path)
		if err != nil {
			t.Fatal(err)
		}
		if meta.Model != "smallcnn" || meta.Channels != 1 || meta.Objective != "simclr" {
			t.Errorf("config %s: meta %+v", config, meta)
		}
		if config == testConfig && (meta.Size != 28 || meta.Recipe != "fmnist-simclr-v1") {
			t.Errorf("meta %+v", meta)
		}
		want, got := s.Encoder.Params(), enc.Params()
		if len(want) != len(got) {
			t.Fatalf("%d params, want %d", len(got), len(want))
		}
		for i := range want {
			if want[i].Name != got[i].Name {
				t.Fatalf("param %d named %q, want %q", i, got[i].Name, want[i].Name)
			}
			for j := range want[i].W {
				if want[i].W[j] != got[i].W[j] {
					t.Fatalf("param %s[%d] = %v, want %v", want[i].Name, j, got[i].W[j], want[i].W[j])
				}
			}
		}
		wb, gb := s.Encoder.Buffers(), enc.Buffers()
		for i := range wb {
			for j := range wb[i].Data {
				if wb[i].Data[j] != gb[i].Data[j] {
					t.Fatalf("buffer %s[%d] differs", wb[i].Name, j)
				}
			}
		}
	}
}

func TestLoadEncoderInlineRecipeAndOverride(t *testing.T) {
	path, _ := saveSimCLR(t, `{"model":"smallcnn","channels":1,"recipe":{"version":1,"ops":[]}}`)
	_, meta, err := LoadEncoder(path)
	if err != nil {
		t.Fatal(err)
	}
	if meta.Recipe != `{"version":1,"ops":[]}` {
		t.Errorf("inline recipe read as %q", meta.Recipe)
	}
	// Overriding the channels to 3 asks for a tensor shape the file lacks.
	if _, _, err := LoadEncoderAs(path, "", 3); !errors.Is(err, trainer.ErrMismatch) || !strings.Contains(err.Error(), path) {
		t.Errorf("channels override 3: err %v, want a mismatch naming the file", err)
	}
	if _, _, err := LoadEncoderAs(path, "vit", 0); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("unknown model: err %v, want ErrCheckpoint", err)
	}
}

func TestLoadEncoderErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.safetensors")
	if _, _, err := LoadEncoder(missing); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: err %v", err)
	}
	corrupt := filepath.Join(dir, "corrupt.safetensors")
	if err := os.WriteFile(corrupt, []byte("\x10\x00\x00\x00\x00\x00\x00\x00{not json at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadEncoder(corrupt); err == nil || !strings.Contains(err.Error(), corrupt) {
		t.Errorf("corrupt file: err %v", err)
	}
	path, _ := saveSimCLR(t, testConfig)
	data, _ := os.ReadFile(path)
	trunc := filepath.Join(dir, "trunc.safetensors")
	if err := os.WriteFile(trunc, data[:len(data)-100], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadEncoder(trunc); err == nil || !strings.Contains(err.Error(), trunc) {
		t.Errorf("truncated file: err %v", err)
	}
	badcfg := filepath.Join(dir, "badcfg.safetensors")
	f, _ := os.Create(badcfg)
	s, _ := trainer.NewSimCLR(trainer.Config{Model: "smallcnn", Channels: 1})
	if err := trainer.SaveCheckpoint(f, s.Model(), nil, 0, `{"model":7}`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, _, err := LoadEncoder(badcfg); !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), badcfg) {
		t.Errorf("config with a non-string model: err %v", err)
	}
}

func TestEvalRecipe(t *testing.T) {
	got := EvalRecipe(28, 1, []float64{0.286}, []float64{0.353})
	want := `{"version":1,"name":"eval-28","channels":1,"ops":[{"op":"resize","size":28},{"op":"center_crop","size":28}],"output":{"format":"float32_chw","mean":[0.286],"std":[0.353]}}`
	if got != want {
		t.Errorf("EvalRecipe = %s", got)
	}
	if got := EvalRecipe(32, 3, nil, nil); strings.Contains(got, "mean") {
		t.Errorf("no normalisation asked, got %s", got)
	}
}

// FuzzParseMeta: any config string either parses or fails cleanly.
func FuzzParseMeta(f *testing.F) {
	f.Add(testConfig)
	f.Add(`{"recipe":{"version":1}}`)
	f.Add(`{"channels":-1,"model":null}`)
	f.Add(``)
	f.Fuzz(func(t *testing.T, config string) {
		m, err := parseMeta(config)
		if err == nil && m.Channels != 0 && config == "" {
			t.Fatalf("empty config gave %+v", m)
		}
	})
}
