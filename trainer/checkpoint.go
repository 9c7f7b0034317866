package trainer

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// CheckpointVersion is the checkpoint format this package writes and the
// only one it reads (see VERSIONING.md).
const CheckpointVersion = 1

// Metadata keys of a checkpoint's safetensors __metadata__ (all values are
// strings, as the format requires).
const (
	MetaVersion        = "pairflow.checkpoint_version"
	MetaStep           = "pairflow.step"
	MetaConfig         = "pairflow.config"
	MetaOptimizerSteps = "pairflow.optimizer_steps"
)

// CheckpointInfo is what a checkpoint says besides the tensors.
type CheckpointInfo struct {
	Step     int64
	Config   string // JSON
	Metadata map[string]string
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
	return WriteSafetensors(w, ts, meta)
}

// LoadCheckpoint reads a checkpoint written by SaveCheckpoint into model
// and opt (nil to skip the optimiser). Nothing is changed unless every
// tensor is present with the right dtype and shape. It refuses versions
// other than CheckpointVersion with ErrVersion; name labels errors.
func LoadCheckpoint[T Float](r io.Reader, name string, model Layer[T], opt Optimizer[T]) (CheckpointInfo, error) {
	f, err := ReadSafetensors(r, name)
	if err != nil {
		return CheckpointInfo{}, err
	}
	v, ok := f.Metadata[MetaVersion]
	if !ok || v != strconv.Itoa(CheckpointVersion) {
		if !ok {
			v = "none"
		}
		return CheckpointInfo{}, fmt.Errorf("trainer: checkpoint %s: version %s, this build reads %d: %w", name, v, CheckpointVersion, ErrVersion)
	}
	info := CheckpointInfo{Config: f.Metadata[MetaConfig], Metadata: f.Metadata}
	if info.Step, err = strconv.ParseInt(f.Metadata[MetaStep], 10, 64); err != nil {
		return CheckpointInfo{}, fmt.Errorf("trainer: checkpoint %s: step %q: %w", name, f.Metadata[MetaStep], ErrFormat)
	}
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
