package trainer

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/pairflow/pairflow/trainer/safetensors"
)

// CheckpointVersion is the checkpoint format this package writes (see
// VERSIONING.md). It reads this version and version 1, which is version 2
// without the checksum (MetaChecksum): a version-1 checkpoint loads, but
// its CheckpointInfo.Verified is false.
const CheckpointVersion = 2

// Metadata keys of a checkpoint's safetensors __metadata__ (all values are
// strings, as the format requires).
const (
	MetaVersion        = "pairflow.checkpoint_version"
	MetaStep           = "pairflow.step"
	MetaConfig         = "pairflow.config"
	MetaOptimizerSteps = "pairflow.optimizer_steps"
	// MetaChecksum (version 2) is "sha256:" and the hex SHA-256 of the
	// checkpoint's canonical form: every tensor's name, dtype, shape and
	// data in name order, then every other metadata key and value in key
	// order, each length-prefixed (see checkpointDigest). It covers
	// everything a reader uses, so a changed byte anywhere fails with
	// ErrChecksum.
	MetaChecksum = "pairflow.checksum"
)

// CheckpointInfo is what a checkpoint says besides the tensors.
type CheckpointInfo struct {
	Step     int64
	Config   string // JSON
	Metadata map[string]string
	// Version is the checkpoint's format version.
	Version int
	// Verified is true when the checkpoint carried a checksum (version 2)
	// and it matched; version-1 checkpoints have none.
	Verified bool
}

func bnCounterName[T Float](b *BatchNorm[T]) string {
	return strings.TrimSuffix(b.Weight.Name, ".weight") + ".num_batches_tracked"
}

// checkpointTensors lists the float tensors of a model and optimiser.
func checkpointTensors[T Float](model Layer[T], opt Optimizer[T]) (params []*Param[T], bufs []*Buffer[T]) {
	params = model.Params()
	if st, ok := model.(Stateful[T]); ok {
		bufs = append(bufs, st.Buffers()...)
	}
	if opt != nil {
		bufs = append(bufs, opt.State()...)
	}
	return params, bufs
}

// SaveCheckpoint writes the model's parameters (named as PyTorch's
// state_dict), BatchNorm running statistics and counters, the optimiser's
// state, the training step and a JSON config as a safetensors file. opt may
// be nil. The bytes are a deterministic function of the arguments.
func SaveCheckpoint[T Float](w io.Writer, model Layer[T], opt Optimizer[T], step int64, config string) error {
	if config == "" {
		config = "{}"
	}
	if !json.Valid([]byte(config)) {
		return fmt.Errorf("trainer: checkpoint config is not valid JSON: %w", ErrConfig)
	}
	dt := dtypeOf[T]()
	var ts []STTensor
	params, bufs := checkpointTensors(model, opt)
	for _, p := range params {
		ts = append(ts, STTensor{Name: p.Name, DType: dt, Shape: p.Shape, Data: encodeFloats(p.W)})
	}
	for _, b := range bufs {
		ts = append(ts, STTensor{Name: b.Name, DType: dt, Shape: b.Shape, Data: encodeFloats(b.Data)})
	}
	for _, b := range batchNorms(model) {
		ts = append(ts, STTensor{Name: bnCounterName(b), DType: "I64", Shape: []int{}, Data: encodeInt64(b.Tracked)})
	}
	meta := map[string]string{
		"format":    "pt",
		MetaVersion: strconv.Itoa(CheckpointVersion),
		MetaStep:    strconv.FormatInt(step, 10),
		MetaConfig:  config,
	}
	if opt != nil {
		meta[MetaOptimizerSteps] = strconv.FormatInt(opt.Steps(), 10)
	}
	meta[MetaChecksum] = checkpointDigest(ts, meta)
	return WriteSafetensors(w, ts, meta)
}

// checkpointDigest is the MetaChecksum value of tensors and metadata (its
// own key left out): SHA-256 over a canonical form that does not depend on
// the order of the safetensors header's JSON keys.
func checkpointDigest(tensors []STTensor, meta map[string]string) string {
	h := sha256.New()
	var n [8]byte
	field := func(b []byte) {
		binary.LittleEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	str := func(s string) { field([]byte(s)) }
	str("pairflow checkpoint")
	ts := slices.SortedFunc(slices.Values(tensors), func(a, b STTensor) int { return strings.Compare(a.Name, b.Name) })
	binary.LittleEndian.PutUint64(n[:], uint64(len(ts)))
	h.Write(n[:])
	for _, t := range ts {
		str(t.Name)
		str(t.DType)
		dims := make([]string, len(t.Shape))
		for i, d := range t.Shape {
			dims[i] = strconv.Itoa(d)
		}
		str(strings.Join(dims, ","))
		field(t.Data) // hashed in place: no copy of the weights
	}
	keys := slices.Sorted(maps.Keys(meta))
	for _, k := range keys {
		if k != MetaChecksum {
			str(k)
			str(meta[k])
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// Checkpoint is a parsed checkpoint that VerifyCheckpoint accepted: its
// tensors and metadata (File), what it says (Info) and the name its errors
// use. LoadCheckpointFrom loads it into a model without hashing it again.
type Checkpoint struct {
	File *STFile
	Info CheckpointInfo
	Name string

	verified *STFile // the File VerifyCheckpoint checked
}

// testHookDigest, when set by a test, runs each time a checkpoint is
// hashed.
var testHookDigest func()

// VerifyCheckpoint checks a parsed checkpoint without loading it into a
// model: a version this package reads, a step, and for version 2 the
// checksum (ErrChecksum on a mismatch). Name labels errors. LoadCheckpoint
// does the same before it changes anything.
func VerifyCheckpoint(f *STFile, name string) (*Checkpoint, error) {
	if f == nil {
		return nil, fmt.Errorf("trainer: checkpoint %s: no file: %w", name, ErrFormat)
	}
	v, ok := f.Metadata[MetaVersion]
	ver, err := strconv.Atoi(v)
	if !ok || err != nil || ver < 1 || ver > CheckpointVersion {
		if !ok {
			v = "none"
		}
		return nil, fmt.Errorf("trainer: checkpoint %s: version %q, this build reads 1 to %d: %w", name, v, CheckpointVersion, ErrVersion)
	}
	info := CheckpointInfo{Config: f.Metadata[MetaConfig], Metadata: f.Metadata, Version: ver}
	if ver >= 2 {
		sum, ok := f.Metadata[MetaChecksum]
		if !ok {
			return nil, fmt.Errorf("trainer: checkpoint %s: version %d without %s: %w", name, ver, MetaChecksum, ErrChecksum)
		}
		if testHookDigest != nil {
			testHookDigest()
		}
		if got := checkpointDigest(f.Tensors, f.Metadata); got != sum {
			return nil, fmt.Errorf("trainer: checkpoint %s: contents hash to %s, the file records %s (damaged): %w", name, got, sum, ErrChecksum)
		}
		info.Verified = true
	}
	if info.Step, err = strconv.ParseInt(f.Metadata[MetaStep], 10, 64); err != nil || info.Step < 0 {
		return nil, fmt.Errorf("trainer: checkpoint %s: step %q: %w", name, f.Metadata[MetaStep], ErrFormat)
	}
	return &Checkpoint{File: f, Info: info, Name: name, verified: f}, nil
}

// ReadCheckpointFile parses and verifies (VerifyCheckpoint) the checkpoint
// file at path; LoadCheckpointFrom loads the result into a model. Only a
// regular file is read, and its header's declared lengths are checked
// against its size before they are trusted (safetensors.ReadFile).
func ReadCheckpointFile(path string) (*Checkpoint, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return VerifyCheckpoint(f, path)
}

// LoadCheckpointFile is LoadCheckpoint of the file at path, read as
// ReadCheckpointFile reads it.
func LoadCheckpointFile[T Float](path string, model Layer[T], opt Optimizer[T]) (CheckpointInfo, error) {
	c, err := ReadCheckpointFile(path)
	if err != nil {
		return CheckpointInfo{}, err
	}
	return LoadCheckpointFrom(c, model, opt)
}

// LoadCheckpoint reads a checkpoint written by SaveCheckpoint into model
// and opt (nil to skip the optimiser). Nothing is changed unless the
// checkpoint verifies (VerifyCheckpoint: a version this package reads, and
// for version 2 a matching checksum) and every tensor is present with the
// right dtype and shape. Name labels errors. For a file, prefer
// LoadCheckpointFile, which refuses non-regular files and checks the
// declared sizes against the file's.
func LoadCheckpoint[T Float](r io.Reader, name string, model Layer[T], opt Optimizer[T]) (CheckpointInfo, error) {
	f, err := ReadSafetensors(r, name)
	if err != nil {
		return CheckpointInfo{}, err
	}
	c, err := VerifyCheckpoint(f, name)
	if err != nil {
		return CheckpointInfo{}, err
	}
	return LoadCheckpointFrom(c, model, opt)
}

// LoadCheckpointFrom is LoadCheckpoint of a checkpoint VerifyCheckpoint (or
// ReadCheckpointFile) returned: it is not hashed again. A Checkpoint built
// otherwise, or whose File was replaced, is verified first.
func LoadCheckpointFrom[T Float](c *Checkpoint, model Layer[T], opt Optimizer[T]) (CheckpointInfo, error) {
	if c.File == nil || c.verified != c.File {
		v, err := VerifyCheckpoint(c.File, c.Name)
		if err != nil {
			return CheckpointInfo{}, err
		}
		c = v
	}
	f, name, info := c.File, c.Name, c.Info
	var err error
	var optSteps int64
	if opt != nil {
		if optSteps, err = strconv.ParseInt(f.Metadata[MetaOptimizerSteps], 10, 64); err != nil {
			return CheckpointInfo{}, fmt.Errorf("trainer: checkpoint %s: optimizer steps %q: %w", name, f.Metadata[MetaOptimizerSteps], ErrMismatch)
		}
	}
	dt := dtypeOf[T]()
	get := func(n, wantDT string, shape []int) (STTensor, error) {
		t, ok := f.Tensor(n)
		if !ok {
			return t, fmt.Errorf("trainer: checkpoint %s: no tensor %q: %w", name, n, ErrMismatch)
		}
		if t.DType != wantDT || !sameShape(t.Shape, shape) {
			return t, fmt.Errorf("trainer: checkpoint %s: tensor %q is %s%v, model wants %s%v: %w", name, n, t.DType, t.Shape, wantDT, shape, ErrMismatch)
		}
		if err := checkFinite(t, name); err != nil {
			return t, err
		}
		return t, nil
	}
	params, bufs := checkpointTensors(model, opt)
	type load struct {
		src []byte
		dst []T
	}
	var loads []load
	for _, p := range params {
		t, err := get(p.Name, dt, p.Shape)
		if err != nil {
			return CheckpointInfo{}, err
		}
		loads = append(loads, load{t.Data, p.W})
	}
	for _, b := range bufs {
		t, err := get(b.Name, dt, b.Shape)
		if err != nil {
			return CheckpointInfo{}, err
		}
		loads = append(loads, load{t.Data, b.Data})
	}
	bns := batchNorms(model)
	counts := make([]int64, len(bns))
	for i, b := range bns {
		t, err := get(bnCounterName(b), "I64", []int{})
		if err != nil {
			return CheckpointInfo{}, err
		}
		counts[i] = int64(binary.LittleEndian.Uint64(t.Data))
	}
	for _, l := range loads {
		decodeFloats(l.src, l.dst)
	}
	for i, b := range bns {
		b.Tracked = counts[i]
	}
	if opt != nil {
		opt.SetSteps(optSteps)
	}
	return info, nil
}
