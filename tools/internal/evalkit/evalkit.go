package evalkit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/pairflow/pairflow/arrowpair"
	"github.com/pairflow/pairflow/pipeline"
	"github.com/pairflow/pairflow/shards"
	"github.com/pairflow/pairflow/trainer"
)

// Errors of this package, wrapped with context (the file or dataset named);
// test with errors.Is.
var (
	// ErrCheckpoint: a checkpoint's config does not describe an encoder this
	// build can make (unknown model, channels missing and not inferable,
	// config not JSON).
	ErrCheckpoint = errors.New("evalkit: bad checkpoint")
	// ErrFeatures: the eval pipeline's batches do not fit the encoder
	// (not float32 CHW, wrong channels, records missing).
	ErrFeatures = errors.New("evalkit: cannot extract features")
)

// Prefix is the parameter-name prefix of the encoder inside a pairflow
// model (trainer.NewSimCLR and the other objectives name it "enc.").
const Prefix = "enc."

// Meta is what a pairflow checkpoint's config says about its encoder.
type Meta struct {
	Model     string
	Channels  int
	Size      int
	Objective string
	Recipe    string
}

// metaJSON is the part of a checkpoint config Meta reads; other fields are
// ignored. Recipe is a preset name (string) or an inline recipe (object).
type metaJSON struct {
	Model     string          `json:"model"`
	Channels  int             `json:"channels"`
	Size      int             `json:"size"`
	Objective string          `json:"objective"`
	Recipe    json.RawMessage `json:"recipe"`
}

// LoadEncoder builds the encoder a checkpoint names (its config JSON —
// trainer.CheckpointInfo.Config — holds {"model":..,"channels":..,"size":..,
// "objective":..,"recipe":..} among other fields, which are ignored) and loads
// the tensors prefixed "enc." into it. A config without a model means
// "smallcnn"; without channels, they are read off the first convolution's
// weight. Errors name the file.
func LoadEncoder(path string) (*trainer.Encoder[float32], Meta, error) {
	return LoadEncoderAs(path, "", 0)
}

// LoadEncoderAs is LoadEncoder where a non-empty model and non-zero channels
// override the checkpoint's.
func LoadEncoderAs(path, model string, channels int) (*trainer.Encoder[float32], Meta, error) {
	ck, err := trainer.ReadCheckpointFile(path)
	if err != nil {
		return nil, Meta{}, fmt.Errorf("evalkit: encoder: %w", err)
	}
	f := ck.File
	meta, err := parseMeta(f.Metadata[trainer.MetaConfig])
	if err != nil {
		return nil, Meta{}, fmt.Errorf("evalkit: encoder %s: config: %w: %w", path, ErrCheckpoint, err)
	}
	if model != "" {
		meta.Model = model
	}
	if channels != 0 {
		meta.Channels = channels
	}
	if meta.Model == "" {
		meta.Model = "smallcnn"
	}
	if meta.Channels == 0 {
		for _, n := range []string{Prefix + "f.0.weight", Prefix + "conv1.weight"} {
			if t, ok := f.Tensor(n); ok && len(t.Shape) == 4 {
				meta.Channels = t.Shape[1]
				break
			}
		}
	}
	if meta.Channels < 1 || meta.Channels > arrowpair.MaxChannels {
		return nil, Meta{}, fmt.Errorf("evalkit: encoder %s: %w: channels %d (set them in the config)", path, ErrCheckpoint, meta.Channels)
	}
	enc, err := trainer.NewEncoder(meta.Model, Prefix, meta.Channels, trainer.NewRNG(0))
	if err != nil {
		return nil, Meta{}, fmt.Errorf("evalkit: encoder %s: %w: %w", path, ErrCheckpoint, err)
	}
	if _, err := trainer.LoadCheckpointFrom(ck, enc, nil); err != nil {
		return nil, Meta{}, fmt.Errorf("evalkit: encoder %s: %w", path, err)
	}
	return enc, meta, nil
}

func parseMeta(config string) (Meta, error) {
	if strings.TrimSpace(config) == "" {
		return Meta{}, nil
	}
	var m metaJSON
	if err := json.Unmarshal([]byte(config), &m); err != nil {
		return Meta{}, err
	}
	out := Meta{Model: m.Model, Channels: m.Channels, Size: m.Size, Objective: m.Objective}
	if len(m.Recipe) > 0 && string(m.Recipe) != "null" {
		var s string
		if json.Unmarshal(m.Recipe, &s) == nil {
			out.Recipe = s
		} else {
			out.Recipe = string(m.Recipe)
		}
	}
	return out, nil
}

// EvalRecipe is the un-augmented view: the image as stored (size×size,
// channels), float32 CHW normalised by mean/std per channel ((v/255 −
// mean)/std). mean and std have one entry per channel, or are both empty for
// values in [0, 1]. A source that is not size×size is resized (shorter side)
// and centre-cropped to it; a size×size source is copied unchanged.
func EvalRecipe(size, channels int, mean, std []float64) string {
	norm := ""
	if len(mean) > 0 || len(std) > 0 {
		norm = fmt.Sprintf(`,"mean":%s,"std":%s`, floats(mean), floats(std))
	}
	return fmt.Sprintf(`{"version":1,"name":"eval-%d","channels":%d,"ops":[{"op":"resize","size":%d},{"op":"center_crop","size":%d}],"output":{"format":"float32_chw"%s}}`,
		size, channels, size, size, norm)
}

func floats(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatFloat(x, 'g', -1, 64)
	}
	return "[" + strings.Join(s, ",") + "]"
}

// setEval puts every BatchNorm of enc in evaluation mode and returns a
// function that restores each one's previous mode.
func setEval(enc *trainer.Encoder[float32]) (restore func()) {
	var bns []*trainer.BatchNorm[float32]
	var was []bool
	trainer.Walk[float32](enc, func(l trainer.Layer[float32]) {
		if b, ok := l.(*trainer.BatchNorm[float32]); ok {
			bns = append(bns, b)
			was = append(was, b.Train)
		}
	})
	for _, b := range bns {
		b.Train = false
	}
	return func() {
		for i, b := range bns {
			b.Train = was[i]
		}
	}
}

// inputChannels is the input channel count of enc's first convolution, or 0.
func inputChannels(enc *trainer.Encoder[float32]) int {
	c := 0
	trainer.Walk[float32](enc, func(l trainer.Layer[float32]) {
		if cv, ok := l.(*trainer.Conv2d[float32]); ok && c == 0 {
			c = cv.In
		}
	})
	return c
}

// Features runs the eval pipeline over every record of ds (dataset order)
// with the recipe (preset name or JSON), forwards the views through enc with
// BatchNorm in evaluation mode (the previous mode is restored afterwards), in
// batches of batch, and returns the features (n×enc.Dim, row-major) and the
// labels (-1 where a record has none). workers is the pipeline's worker
// count (0: GOMAXPROCS). A bad record fails the call with an error naming it.
func Features(ctx context.Context, ds *shards.Dataset, enc *trainer.Encoder[float32], recipe string, batch, workers int) (feats []float32, labels []int32, err error) {
	n := ds.Len()
	p, err := pipeline.New(ds, pipeline.Config{Kind: arrowpair.Eval, BatchSize: batch,
		Recipe: pipeline.Recipes{recipe}, Workers: workers})
	if err != nil {
		return nil, nil, fmt.Errorf("evalkit: features: %w", err)
	}
	defer func() {
		if cerr := p.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("evalkit: features: %w", cerr)
		}
	}()
	l := p.Layout()
	sh := l.Shapes[0]
	if l.DType != arrowpair.Float32 {
		return nil, nil, fmt.Errorf("%w: the recipe outputs %s views, want float32 CHW", ErrFeatures, l.DType)
	}
	if c := inputChannels(enc); c != 0 && c != sh.C {
		return nil, nil, fmt.Errorf("%w: the recipe makes %d-channel views, the encoder takes %d", ErrFeatures, sh.C, c)
	}
	restore := setEval(enc)
	defer restore()

	dim, elems := enc.Dim, sh.C*sh.H*sh.W
	feats = make([]float32, n*dim)
	labels = make([]int32, n)
	seen := make([]bool, n)
	count := 0
	var buf []float32
	for rec, berr := range p.Batches(ctx) {
		if berr != nil {
			return nil, nil, fmt.Errorf("evalkit: features: %w", berr)
		}
		err := func() error {
			defer rec.Release()
			b, err := arrowpair.ReadBatch(rec)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrFeatures, err)
			}
			views, err := b.Tensors("view")
			if err != nil {
				return err
			}
			m := views.Len()
			if cap(buf) < m*elems {
				buf = make([]float32, m*elems)
			}
			buf = buf[:m*elems]
			for i := range m {
				copy(buf[i*elems:(i+1)*elems], views.Float32(i))
			}
			out := enc.Forward(trainer.Tensor[float32]{Data: buf, Shape: []int{m, sh.C, sh.H, sh.W}})
			for i := range m {
				id := b.SampleID(i)
				if id >= uint64(n) || seen[id] {
					return fmt.Errorf("%w: sample_id %d out of range or repeated", ErrFeatures, id)
				}
				seen[id] = true
				copy(feats[int(id)*dim:(int(id)+1)*dim], out.Data[i*dim:(i+1)*dim])
				labels[id] = -1
				if l, ok := b.Label(i); ok {
					labels[id] = l
				}
			}
			count += m
			return nil
		}()
		if err != nil {
			return nil, nil, fmt.Errorf("evalkit: features: %w", err)
		}
	}
	if count != n {
		return nil, nil, fmt.Errorf("%w: %d of %d records came out of the pipeline", ErrFeatures, count, n)
	}
	return feats, labels, nil
}
