package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/pairflow/pairflow/arrowpair"
	"github.com/pairflow/pairflow/imageio"
	"github.com/pairflow/pairflow/ops"
)

// Errors of the running pipeline (the Arrow contract's errors are in
// schema.go). They are wrapped with context; test with errors.Is.
var (
	// ErrConfig: a Config value is invalid (see Config.Validate).
	ErrConfig = errors.New("pipeline: invalid configuration")
	// ErrBadRecord: a record could not be read, decoded or augmented. It is
	// the error a skip reports and, under the fail policy, the error the
	// pipeline stops with; it comes as a *SampleError naming the record.
	ErrBadRecord = errors.New("pipeline: bad record")
	// ErrSkipBudget: more records were skipped than the skip policy allows.
	ErrSkipBudget = errors.New("pipeline: skip budget exceeded")
	// ErrPanic: an op panicked; the error names the sample. It is never
	// skipped, whatever the policy.
	ErrPanic = errors.New("pipeline: panic while processing a sample")
	// ErrState: a pipeline State is malformed, of another version, or does not
	// match the configuration.
	ErrState = errors.New("pipeline: invalid state")
	// ErrClosed: the pipeline was closed, or its Batches already ended with an
	// error or a cancelled context.
	ErrClosed = errors.New("pipeline: closed")
)

// Config fixes a pipeline. It reads from JSON (ParseConfig) with snake_case
// field names; zero values of optional fields select the defaults listed.
//
// What fixes the output stream: the dataset, Kind, BatchSize, Views, Recipe,
// Seed, Epoch, Rank, WorldSize, Order, Window, DropLast, LabelFraction,
// Mask, Patch, and (whether a bad record fails the run or is replaced) Skip.
// Workers, Prefetch and Allocator change only speed and memory, never a byte
// of output.
type Config struct {
	// Kind is the pair kind (required).
	Kind arrowpair.Kind `json:"kind"`
	// BatchSize is the number of rows per batch (required, ≥ 1).
	BatchSize int `json:"batch_size"`
	// Views is the number of views of Contrastive (default 2; ≥ 2). Other
	// kinds take 0 or their own count.
	Views int `json:"views,omitempty"`
	// Recipe: one recipe for every view, or one per view (Contrastive only,
	// BYOL-style asymmetry). Each is a preset name (ops.Presets) or an inline
	// recipe JSON object. Required.
	Recipe Recipes `json:"recipe"`
	// Seed fixes the order and every augmentation.
	Seed uint64 `json:"seed"`
	// Epoch is the first epoch (default 0).
	Epoch int64 `json:"epoch,omitempty"`
	// Epochs is the number of epochs to run from Epoch; 0 runs without end
	// (Eval always runs one pass).
	Epochs int64 `json:"epochs,omitempty"`
	// Rank and WorldSize split every epoch across data-parallel ranks
	// (default 0 of 1).
	Rank      int `json:"rank,omitempty"`
	WorldSize int `json:"world_size,omitempty"`
	// Workers is the size of the augmentation pool (default GOMAXPROCS).
	Workers int `json:"workers,omitempty"`
	// Prefetch is how many finished batches may wait for the consumer
	// (default 2). See Pipeline for the memory bound.
	Prefetch int `json:"prefetch,omitempty"`
	// Order is "shuffle" (the default: a global permutation of the records
	// per epoch) or "shards" (shard order shuffled, then records shuffled
	// within windows of Window records of the shards' sequence, for datasets
	// read faster in file order; see sampler.ShardOrder). Not for
	// supervised (subset draws) or eval (dataset order).
	Order string `json:"order,omitempty"`
	// Window is the shuffle window of Order "shards", in records (default
	// 4096, at most the dataset).
	Window int64 `json:"window,omitempty"`
	// DropLast drops the last partial batch of an epoch instead of padding
	// it by wrapping around (the default). Eval never pads.
	DropLast bool `json:"drop_last,omitempty"`
	// LabelFraction (Supervised only) draws from a class-balanced subset of
	// this fraction of the labelled records, in (0, 1]; 0 means 1 (all).
	LabelFraction float64 `json:"label_fraction,omitempty"`
	// Skip is the bad-record policy.
	Skip SkipPolicy `json:"skip"`
	// MaxPixels is the pixel budget (width×height) of one decoded image;
	// 0 means imageio.DefaultMaxPixels, the budget shardify packs with by
	// default. New refuses a split packed with a larger budget (its
	// manifest's max_pixels): raise this setting to open it. The manifest
	// never raises it.
	MaxPixels int64 `json:"max_pixels,omitempty"`
	// Mask configures Inpainting.
	Mask MaskOptions `json:"mask"`
	// Patch configures RelativePatch.
	Patch PatchOptions `json:"patch"`
	// Allocator receives the Arrow batches' memory (default
	// memory.DefaultAllocator). Not part of the JSON form.
	Allocator memory.Allocator `json:"-"`
}

// SkipPolicy says what a bad record (checksum mismatch, undecodable image)
// does.
type SkipPolicy struct {
	// Policy is "fail" (the default: the pipeline stops with the record's
	// error) or "skip".
	Policy string `json:"policy,omitempty"`
	// MaxCount, under "skip", is the most records that may be skipped over
	// the whole run (counted across resumes); 0 means no count limit.
	MaxCount int64 `json:"max_count,omitempty"`
	// MaxFraction, under "skip", bounds the skips of each epoch to
	// floor(MaxFraction × the rank's samples per epoch); 0 means no
	// fraction limit. "skip" needs MaxCount or MaxFraction (or both).
	MaxFraction float64 `json:"max_fraction,omitempty"`
}

// Skip policies.
const (
	PolicyFail = "fail"
	PolicySkip = "skip"
)

// Orders of Config.Order.
const (
	OrderShuffle = "shuffle"
	OrderShards  = "shards"
)

// Mask modes of Inpainting.
const (
	MaskCenter  = "center"  // one central square (rectangle for non-square views)
	MaskBlocks  = "blocks"  // random rectangles until Ratio of the view is covered
	MaskPatches = "patches" // a grid of Patch×Patch cells, round(Ratio × cells) of them masked
	MaskSquare  = "square"  // one Patch×Patch square at a uniformly random position
)

// MaskOptions configure the masked region of Inpainting.
type MaskOptions struct {
	// Mode is "center" (default), "blocks", "patches" or "square".
	Mode string `json:"mode,omitempty"`
	// Ratio is the fraction of the view's pixels to mask, in (0, 1)
	// (default 0.25).
	Ratio float64 `json:"ratio,omitempty"`
	// Patch is the cell side for "patches", the largest block side for
	// "blocks" and the side for "square", in view pixels (default: a quarter
	// of the shorter side for blocks, an eighth for patches, √Ratio of the
	// shorter side for square; at least 1).
	Patch int `json:"patch,omitempty"`
	// Fill is the value masked pixels get in the "masked" column, in the
	// view's output units (a float for float32 views, 0–255 for uint8).
	// Default 0.
	Fill float64 `json:"fill,omitempty"`
}

// PatchOptions configure RelativePatch's 3×3 grid: with s the source's
// shorter side, the patch side is P = floor(s / (3 + 2·Gap + 2·Jitter)); the
// gap between cells is floor(Gap·P) and every patch moves by up to
// floor(Jitter·P) pixels in x and y.
type PatchOptions struct {
	// Gap between neighbouring cells as a fraction of the patch side
	// (default 0.25; ≥ 0).
	Gap float64 `json:"gap,omitempty"`
	// Jitter as a fraction of the patch side (default 0.05; ≥ 0).
	Jitter float64 `json:"jitter,omitempty"`
}

// Recipes is one recipe or one per view, each a preset name or an inline
// recipe JSON object. In JSON it is a string, an object, or an array of
// strings and objects.
type Recipes []string

// UnmarshalJSON accepts "name", {…}, or an array of either.
func (r *Recipes) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	one := func(e json.RawMessage) (string, error) {
		e = bytes.TrimSpace(e)
		switch {
		case len(e) > 0 && e[0] == '"':
			var s string
			err := json.Unmarshal(e, &s)
			return s, err
		case len(e) > 0 && e[0] == '{':
			return string(e), nil
		}
		return "", fmt.Errorf("recipe %.40s: want a preset name or a recipe object", e)
	}
	if len(b) > 0 && b[0] == '[' {
		var list []json.RawMessage
		if err := json.Unmarshal(b, &list); err != nil {
			return err
		}
		out := make(Recipes, len(list))
		for i, e := range list {
			s, err := one(e)
			if err != nil {
				return err
			}
			out[i] = s
		}
		*r = out
		return nil
	}
	s, err := one(b)
	if err != nil {
		return err
	}
	*r = Recipes{s}
	return nil
}

// MarshalJSON writes names as strings and inline recipes as objects.
func (r Recipes) MarshalJSON() ([]byte, error) {
	list := make([]json.RawMessage, len(r))
	for i, s := range r {
		if isInline(s) {
			if !json.Valid([]byte(s)) {
				return nil, fmt.Errorf("pipeline: recipe %d is not valid JSON", i)
			}
			list[i] = json.RawMessage(s)
		} else {
			b, _ := json.Marshal(s)
			list[i] = b
		}
	}
	return json.Marshal(list)
}

func isInline(s string) bool { return strings.HasPrefix(strings.TrimSpace(s), "{") }

// maxConfigBytes bounds ParseConfig's input.
const maxConfigBytes = 4 << 20

// ParseConfig reads a Config from JSON, refusing unknown fields and trailing
// data, and validates it.
func ParseConfig(data []byte) (Config, error) {
	if len(data) > maxConfigBytes {
		return Config{}, fmt.Errorf("%w: %d bytes of JSON (at most %d)", ErrConfig, len(data), maxConfigBytes)
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	var c Config
	if err := d.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if _, err := d.Token(); err != io.EOF {
		return Config{}, fmt.Errorf("%w: data after the JSON object", ErrConfig)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Limits on Config values.
const (
	MaxBatchSize = 1 << 20
	MaxViews     = 64
	MaxWorkers   = 1024
	MaxPrefetch  = 1024
	maxEpoch     = 1 << 40 // the sampler's limit
)

// Validate checks every field; the error wraps ErrConfig and names the field.
// It does not load the recipes (New does).
func (c *Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
	}
	switch c.Kind {
	case arrowpair.Contrastive, arrowpair.Inpainting, arrowpair.RelativePatch, arrowpair.Rotation, arrowpair.Supervised, arrowpair.Eval:
	default:
		return bad("kind %q (want one of %v)", c.Kind, arrowpair.Kinds())
	}
	if c.BatchSize < 1 || c.BatchSize > MaxBatchSize {
		return bad("batch_size %d (want 1..%d)", c.BatchSize, MaxBatchSize)
	}
	if c.MaxPixels < 0 || c.MaxPixels > MaxPixelsLimit {
		return bad("max_pixels %d (want 0 for the default, or 1..%d)", c.MaxPixels, int64(MaxPixelsLimit))
	}
	if c.Kind == arrowpair.Contrastive {
		if c.Views != 0 && (c.Views < 2 || c.Views > MaxViews) {
			return bad("views %d (want 2..%d)", c.Views, MaxViews)
		}
	} else if c.Views != 0 && c.Views != 1 {
		return bad("views %d: only contrastive has several views", c.Views)
	}
	if len(c.Recipe) == 0 {
		return bad("no recipe")
	}
	if len(c.Recipe) > 1 && (c.Kind != arrowpair.Contrastive || len(c.Recipe) != c.views()) {
		return bad("%d recipes: per-view recipes need kind contrastive and one recipe per view (%d)", len(c.Recipe), c.views())
	}
	for i, r := range c.Recipe {
		if strings.TrimSpace(r) == "" {
			return bad("recipe %d is empty", i)
		}
	}
	if c.Epoch < 0 || c.Epochs < 0 || c.Epoch > maxEpoch || c.Epochs > maxEpoch {
		return bad("epoch %d, epochs %d (want 0..%d)", c.Epoch, c.Epochs, int64(maxEpoch))
	}
	if c.WorldSize < 0 || c.Rank < 0 || c.Rank >= max(c.WorldSize, 1) {
		return bad("rank %d of world_size %d", c.Rank, c.WorldSize)
	}
	if c.Workers < 0 || c.Workers > MaxWorkers {
		return bad("workers %d (want 0..%d)", c.Workers, MaxWorkers)
	}
	if c.Prefetch < 0 || c.Prefetch > MaxPrefetch {
		return bad("prefetch %d (want 0..%d)", c.Prefetch, MaxPrefetch)
	}
	switch c.Order {
	case "", OrderShuffle:
		if c.Window != 0 {
			return bad("window %d without order shards", c.Window)
		}
	case OrderShards:
		if c.Kind == arrowpair.Supervised || c.Kind == arrowpair.Eval {
			return bad("order shards with kind %s", c.Kind)
		}
		if c.Window < 0 {
			return bad("window %d", c.Window)
		}
	default:
		return bad("order %q (want shuffle or shards)", c.Order)
	}
	if c.Kind == arrowpair.Eval && c.DropLast {
		return bad("drop_last with kind eval (eval never pads or drops)")
	}
	if !(c.LabelFraction >= 0 && c.LabelFraction <= 1) {
		return bad("label_fraction %v (want 0..1)", c.LabelFraction)
	}
	if c.LabelFraction != 0 && c.Kind != arrowpair.Supervised {
		return bad("label_fraction is for kind supervised only")
	}
	switch c.Skip.Policy {
	case "", PolicyFail:
		if c.Skip.MaxCount != 0 || c.Skip.MaxFraction != 0 {
			return bad("skip budget given with policy fail")
		}
	case PolicySkip:
		if c.Skip.MaxCount < 0 || !(c.Skip.MaxFraction >= 0 && c.Skip.MaxFraction <= 1) {
			return bad("skip max_count %d, max_fraction %v", c.Skip.MaxCount, c.Skip.MaxFraction)
		}
		if c.Skip.MaxCount == 0 && c.Skip.MaxFraction == 0 {
			return bad("skip policy needs max_count or max_fraction")
		}
	default:
		return bad("skip policy %q (want fail or skip)", c.Skip.Policy)
	}
	m := c.Mask
	switch m.Mode {
	case "", MaskCenter, MaskBlocks, MaskPatches, MaskSquare:
	default:
		return bad("mask mode %q (want center, blocks, patches or square)", m.Mode)
	}
	if !(m.Ratio >= 0 && m.Ratio < 1) || m.Patch < 0 || m.Patch > ops.MaxSide || math.IsNaN(m.Fill) || math.IsInf(m.Fill, 0) {
		return bad("mask ratio %v (want 0..1, 0 for the default), patch %d, fill %v", m.Ratio, m.Patch, m.Fill)
	}
	pt := c.Patch
	if !(pt.Gap >= 0 && pt.Gap <= 4) || !(pt.Jitter >= 0 && pt.Jitter <= 1) {
		return bad("patch gap %v (want 0..4), jitter %v (want 0..1)", pt.Gap, pt.Jitter)
	}
	return nil
}

// views returns the number of views per sample (Contrastive's count, else 1).
func (c *Config) views() int {
	if c.Kind == arrowpair.Contrastive {
		if c.Views == 0 {
			return 2
		}
		return c.Views
	}
	return 1
}

// resolved returns c with every default filled in. c must be valid.
func (c Config) resolved() Config {
	if c.Kind == arrowpair.Contrastive && c.Views == 0 {
		c.Views = 2
	}
	if c.WorldSize == 0 {
		c.WorldSize = 1
	}
	if c.Workers == 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.Prefetch == 0 {
		c.Prefetch = 2
	}
	if c.Kind == arrowpair.Eval {
		c.Epochs = 1
	}
	if c.Kind == arrowpair.Supervised && c.LabelFraction == 0 {
		c.LabelFraction = 1
	}
	if c.Skip.Policy == "" {
		c.Skip.Policy = PolicyFail
	}
	if c.MaxPixels == 0 {
		c.MaxPixels = imageio.DefaultMaxPixels
	}
	if c.Mask.Mode == "" {
		c.Mask.Mode = MaskCenter
	}
	if c.Mask.Ratio == 0 {
		c.Mask.Ratio = 0.25
	}
	if c.Patch.Gap == 0 && c.Patch.Jitter == 0 {
		c.Patch.Gap, c.Patch.Jitter = 0.25, 0.05
	}
	if c.Allocator == nil {
		c.Allocator = memory.DefaultAllocator
	}
	return c
}

// loadRecipe resolves a preset name or inline JSON.
func loadRecipe(s string) (*ops.Recipe, error) {
	if isInline(s) {
		return ops.ParseRecipe([]byte(s))
	}
	return ops.Preset(s)
}

// EvalRecipe returns a deterministic evaluation recipe as JSON: resize the
// shorter side to size, centre-crop size×size, float32 CHW in [0, 1] with
// the given channels (1 or 3).
func EvalRecipe(size, channels int) string {
	return fmt.Sprintf(`{"version":1,"name":"eval-%d","channels":%d,"ops":[{"op":"resize","size":%d},{"op":"center_crop","size":%d}],"output":{"format":"float32_chw"}}`,
		size, channels, size, size)
}

// PatchRecipe returns a recipe for RelativePatch patches as JSON: resize to
// size×size, then (when jitter) colour jitter 0.4 with p 0.8 and grayscale
// with p 0.2 against chromatic shortcuts; float32 CHW in [0, 1].
func PatchRecipe(size, channels int, jitter bool) string {
	extra := ""
	if jitter {
		extra = `,{"op":"random_apply","p":0.8,"ops":[{"op":"color_jitter","brightness":0.4,"contrast":0.4,"saturation":0.4,"hue":0.1}]},{"op":"random_grayscale","p":0.2}`
		if channels == 1 {
			extra = `,{"op":"random_apply","p":0.8,"ops":[{"op":"color_jitter","brightness":0.4,"contrast":0.4}]}`
		}
	}
	return fmt.Sprintf(`{"version":1,"name":"patch-%d","channels":%d,"ops":[{"op":"resize","size":[%d,%d]}%s],"output":{"format":"float32_chw"}}`,
		size, channels, size, size, extra)
}
