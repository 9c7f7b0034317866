package trainer

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// goldenCheckpoint pins what SaveCheckpoint writes; goldenCheckpointV1 is
// the same checkpoint as version 1 (no checksum) wrote it, which must
// still load.
const (
	goldenCheckpoint   = "testdata/checkpoint_v2.safetensors"
	goldenCheckpointV1 = "testdata/checkpoint_v1.safetensors"
)

// tinyTrained is a small deterministic model with optimiser state. Every
// value is set directly (no arithmetic), so the golden file pins the format
// whatever the kernel tier or platform.
func tinyTrained() (*Sequential[float32], *SGD[float32]) {
	r := NewRNG(1)
	bn := NewBatchNorm[float32]("bn", 2)
	m := NewSequential[float32](NewLinear[float32]("fc", 3, 2, true, r), bn)
	bn.Weight.W[0], bn.Bias.W[1] = 1.5, -0.25
	bn.RunningMean.Data[0], bn.RunningMean.Data[1] = 0.125, -2
	bn.RunningVar.Data[1] = 3.5
	bn.Tracked = 1
	opt, err := NewSGD(m.Params(), 0.9, false, DecayOptions{WeightDecay: 1e-4})
	if err != nil {
		panic(err)
	}
	for i, b := range opt.State() {
		for j := range b.Data {
			b.Data[j] = float32(i) - float32(j)/8
		}
	}
	opt.SetSteps(1)
	return m, opt
}

func TestCheckpointGolden(t *testing.T) {
	m, opt := tinyTrained()
	var buf bytes.Buffer
	if err := SaveCheckpoint[float32](&buf, m, opt, 7, `{"model":"tiny"}`); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(goldenCheckpoint, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(goldenCheckpoint)
	if err != nil {
		t.Fatalf("%v (run go test -run Golden -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("checkpoint bytes differ from %s (%d vs %d bytes)", goldenCheckpoint, buf.Len(), len(want))
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	m, opt := tinyTrained()
	var buf bytes.Buffer
	if err := SaveCheckpoint[float32](&buf, m, opt, 7, `{"model":"tiny"}`); err != nil {
		t.Fatal(err)
	}
	saved := buf.Bytes()
	m2 := NewSequential[float32](NewLinear[float32]("fc", 3, 2, true, NewRNG(99)), NewBatchNorm[float32]("bn", 2))
	opt2, _ := NewSGD(m2.Params(), 0.9, false, DecayOptions{WeightDecay: 1e-4})
	info, err := LoadCheckpoint[float32](bytes.NewReader(saved), "mem", m2, opt2)
	if err != nil {
		t.Fatal(err)
	}
	if info.Step != 7 || info.Config != `{"model":"tiny"}` || opt2.Steps() != 1 {
		t.Fatalf("info %+v, optimizer steps %d", info, opt2.Steps())
	}
	for i, p := range m.Params() {
		if !equalBits(p.W, m2.Params()[i].W) {
			t.Errorf("%s differs after round trip", p.Name)
		}
	}
	for i, b := range m.Buffers() {
		if !equalBits(b.Data, m2.Buffers()[i].Data) {
			t.Errorf("%s differs after round trip", b.Name)
		}
	}
	if m2.Layers[1].(*BatchNorm[float32]).Tracked != 1 {
		t.Errorf("num_batches_tracked not restored")
	}
	// Same state, same next step: resumed training is bit-identical.
	for _, mm := range []*Sequential[float32]{m, m2} {
		for _, p := range mm.Params() {
			for i := range p.G {
				p.G[i] = float32(i) * 0.01
			}
		}
	}
	opt.Step(0.05)
	opt2.Step(0.05)
	for i, p := range m.Params() {
		if !equalBits(p.W, m2.Params()[i].W) {
			t.Errorf("%s differs after a resumed step", p.Name)
		}
	}
	var again bytes.Buffer
	if err := SaveCheckpoint[float32](&again, m2, opt2, 7, `{"model":"tiny"}`); err != nil {
		t.Fatal(err)
	}
	var first bytes.Buffer
	SaveCheckpoint[float32](&first, m, opt, 7, `{"model":"tiny"}`)
	if !bytes.Equal(first.Bytes(), again.Bytes()) {
		t.Error("re-saved checkpoint differs")
	}
}

// A version-1 checkpoint (no checksum) still loads, unverified.
func TestCheckpointV1(t *testing.T) {
	m, _ := tinyTrained()
	want := NewSequential[float32](NewLinear[float32]("fc", 3, 2, true, NewRNG(5)), NewBatchNorm[float32]("bn", 2))
	wopt, _ := NewSGD(want.Params(), 0.9, false, DecayOptions{WeightDecay: 1e-4})
	info, err := LoadCheckpointFile[float32](goldenCheckpointV1, want, wopt)
	if err != nil {
		t.Fatal(err)
	}
	if info.Version != 1 || info.Verified || info.Step != 7 {
		t.Fatalf("info %+v", info)
	}
	for i, p := range m.Params() {
		if !equalBits(p.W, want.Params()[i].W) {
			t.Errorf("%s differs", p.Name)
		}
	}
}

// A checkpoint is hashed once on the way from its file into a model
// (ReadCheckpointFile then LoadCheckpointFrom, or LoadCheckpointFile); a
// Checkpoint whose File was replaced after the check is hashed again.
func TestCheckpointHashedOnce(t *testing.T) {
	hashes := 0
	testHookDigest = func() { hashes++ }
	defer func() { testHookDigest = nil }()
	model := func() (*Sequential[float32], Optimizer[float32]) {
		m := NewSequential[float32](NewLinear[float32]("fc", 3, 2, true, NewRNG(5)), NewBatchNorm[float32]("bn", 2))
		opt, _ := NewSGD(m.Params(), 0.9, false, DecayOptions{WeightDecay: 1e-4})
		return m, opt
	}
	m, opt := model()
	if _, err := LoadCheckpointFile[float32](goldenCheckpoint, m, opt); err != nil {
		t.Fatal(err)
	}
	if hashes != 1 {
		t.Fatalf("LoadCheckpointFile hashed the checkpoint %d times, want 1", hashes)
	}
	hashes = 0
	c, err := ReadCheckpointFile(goldenCheckpoint)
	if err != nil {
		t.Fatal(err)
	}
	m, opt = model()
	if _, err := LoadCheckpointFrom[float32](c, m, opt); err != nil || hashes != 1 {
		t.Fatalf("ReadCheckpointFile + LoadCheckpointFrom: %v, %d hashes, want 1", err, hashes)
	}
	// A File swapped in after the check is checked: a damaged copy fails.
	b, _ := os.ReadFile(goldenCheckpoint)
	f, err := ReadSafetensors(bytes.NewReader(b), "copy")
	if err != nil {
		t.Fatal(err)
	}
	f.Tensors[0].Data[0] ^= 1
	c.File = f
	if _, err := LoadCheckpointFrom[float32](c, m, opt); !errors.Is(err, ErrChecksum) {
		t.Fatalf("a replaced, damaged File: %v, want ErrChecksum", err)
	}
	if _, err := LoadCheckpointFrom[float32](&Checkpoint{Name: "empty"}, m, opt); !errors.Is(err, ErrFormat) {
		t.Fatalf("a Checkpoint without a File: %v, want ErrFormat", err)
	}
}

// Every single-byte change of a version-2 checkpoint is refused: by the
// safetensors parser (ErrFormat), the version check (ErrVersion) or the
// checksum (ErrChecksum), and the model is left as it was.
func TestCheckpointChecksum(t *testing.T) {
	good, err := os.ReadFile(goldenCheckpoint)
	if err != nil {
		t.Fatal(err)
	}
	m, opt := tinyTrained()
	before := append([]float32(nil), m.Params()[0].W...)
	var found [3]int
	for i := range good {
		b := append([]byte(nil), good...)
		b[i] ^= 0x10
		_, err := LoadCheckpoint[float32](bytes.NewReader(b), "flip", m, opt)
		switch {
		case err == nil:
			// Padding spaces of the header may become another
			// whitespace-like byte only if JSON still parses identically.
			if b[i] != ' '^0x10 || good[i] != ' ' {
				t.Fatalf("byte %d flipped: loaded without error", i)
			}
			if !equalBits(before, m.Params()[0].W) {
				t.Fatalf("byte %d: a load that succeeded changed the weights", i)
			}
		case errors.Is(err, ErrChecksum):
			found[0]++
		case errors.Is(err, ErrFormat):
			found[1]++
		case errors.Is(err, ErrVersion):
			found[2]++
		default:
			t.Fatalf("byte %d: %v", i, err)
		}
	}
	if found[0] == 0 {
		t.Fatal("no flip was caught by the checksum")
	}
	t.Logf("%d single-byte flips: %d checksum, %d format, %d version", len(good), found[0], found[1], found[2])
	info, err := LoadCheckpoint[float32](bytes.NewReader(good), "good", m, opt)
	if err != nil || !info.Verified || info.Version != CheckpointVersion {
		t.Fatalf("%+v %v", info, err)
	}
	// A version-2 file without its checksum is refused.
	f, _ := ReadSafetensors(bytes.NewReader(good), "x")
	delete(f.Metadata, MetaChecksum)
	var nosum bytes.Buffer
	WriteSafetensors(&nosum, f.Tensors, f.Metadata)
	if _, err := LoadCheckpoint[float32](bytes.NewReader(nosum.Bytes()), "nosum", m, opt); !errors.Is(err, ErrChecksum) {
		t.Errorf("no checksum: %v", err)
	}
}

func equalBits[T Float](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float64bits(float64(a[i])) != math.Float64bits(float64(b[i])) {
			return false
		}
	}
	return true
}

func TestCheckpointErrors(t *testing.T) {
	m, opt := tinyTrained()
	var buf bytes.Buffer
	if err := SaveCheckpoint[float32](&buf, m, opt, 7, ""); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	if err := SaveCheckpoint[float32](&bytes.Buffer{}, m, opt, 7, "{bad"); !errors.Is(err, ErrConfig) {
		t.Errorf("bad config JSON: %v", err)
	}
	// An unknown version is refused.
	f, err := ReadSafetensors(bytes.NewReader(good), "x")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"3", "0", "", "2.0"} {
		f.Metadata[MetaVersion] = v
		var v3 bytes.Buffer
		if err := WriteSafetensors(&v3, f.Tensors, f.Metadata); err != nil {
			t.Fatal(err)
		}
		_, err = LoadCheckpoint[float32](bytes.NewReader(v3.Bytes()), "v3.safetensors", m, opt)
		if !errors.Is(err, ErrVersion) || !strings.Contains(err.Error(), "v3.safetensors") {
			t.Errorf("version %q: %v", v, err)
		}
	}
	// A model that does not fit is refused and left unchanged.
	other := NewSequential[float32](NewLinear[float32]("fc", 4, 2, true, NewRNG(1)))
	before := append([]float32(nil), other.Params()[0].W...)
	if _, err := LoadCheckpoint[float32](bytes.NewReader(good), "x", other, nil); !errors.Is(err, ErrMismatch) {
		t.Errorf("shape mismatch: %v", err)
	}
	if !equalBits(before, other.Params()[0].W) {
		t.Error("failed load changed the model")
	}
	// float64 model from a float32 checkpoint.
	m64 := NewSequential[float64](NewLinear[float64]("fc", 3, 2, true, NewRNG(1)), NewBatchNorm[float64]("bn", 2))
	if _, err := LoadCheckpoint[float64](bytes.NewReader(good), "x", m64, nil); !errors.Is(err, ErrMismatch) {
		t.Errorf("dtype mismatch: %v", err)
	}
	// Corruptions.
	hl := binary.LittleEndian.Uint64(good)
	corrupt := map[string][]byte{
		"empty":          {},
		"short length":   good[:5],
		"huge header":    append(binary.LittleEndian.AppendUint64(nil, 1<<40), good[8:]...),
		"truncated data": good[:len(good)-3],
		"trailing data":  append(append([]byte(nil), good...), 0),
		"not json":       append(binary.LittleEndian.AppendUint64(nil, 4), []byte("{abc")...),
		"header cut":     good[:8+hl/2],
	}
	for name, b := range corrupt {
		if _, err := LoadCheckpoint[float32](bytes.NewReader(b), name, m, opt); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v", name, err)
		}
	}
	bads := []string{
		`{"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}`,
		`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`,
		`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`,
		`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`,
		`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`,
		`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1}}`,
		`{"__metadata__":{"k":1}}`,
	}
	for _, h := range bads {
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
		b = append(append(b, h...), make([]byte, 8)...)
		if _, err := ReadSafetensors(bytes.NewReader(b), "x"); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v", h, err)
		}
	}
}

// TestCheckpointReadableByPyTorch runs testdata/read_safetensors.py (stdlib
// parsing + torch.frombuffer) on a smallcnn checkpoint written here, checks
// every tensor it reports, and compares PyTorch's forward pass of the loaded
// weights with ours.
func TestCheckpointReadableByPyTorch(t *testing.T) {
	const py = "/usr/bin/python3"
	if testing.Short() {
		t.Skip("SKIPPING PyTorch interoperability check in -short mode (starting torch takes ~10 s)")
	}
	if err := exec.Command(py, "-c", "import torch").Run(); err != nil {
		requireTorch(t, "PyTorch interoperability check", py, err)
	}
	dir := t.TempDir()
	enc := SmallCNN[float32]("", 3, NewRNG(42))
	opt, _ := NewSGD(enc.Params(), 0.9, false, DecayOptions{})
	x := randTensor[float32](NewRNG(43), 4, 3, 16, 16)
	y := enc.Forward(x) // training mode: batch statistics; also updates running stats
	ckpt := filepath.Join(dir, "enc.safetensors")
	var buf bytes.Buffer
	if err := SaveCheckpoint[float32](&buf, enc, opt, 3, `{"model":"smallcnn"}`); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(ckpt, buf.Bytes(), 0o644)
	// The saved running statistics include our forward pass's update; they do
	// not matter here, as PyTorch also runs in training mode.
	var in bytes.Buffer
	WriteSafetensors(&in, []STTensor{{Name: "input", DType: "F32", Shape: x.Shape, Data: encodeFloats(x.Data)}}, nil)
	inPath := filepath.Join(dir, "input.safetensors")
	os.WriteFile(inPath, in.Bytes(), 0o644)
	out, err := exec.Command(py, "testdata/read_safetensors.py", ckpt, inPath).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	var res struct {
		Metadata map[string]string
		Tensors  map[string]struct {
			Dtype string
			Shape []int
			Sum   float64
			Head  []float64
		}
		Forward []float64
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if res.Metadata[MetaVersion] != "2" || res.Metadata[MetaStep] != "3" {
		t.Errorf("metadata %v", res.Metadata)
	}
	var all []*Buffer[float32]
	for _, p := range enc.Params() {
		all = append(all, &Buffer[float32]{Name: p.Name, Shape: p.Shape, Data: p.W})
	}
	all = append(all, enc.Buffers()...)
	all = append(all, opt.State()...)
	if len(res.Tensors) != len(all)+3 {
		t.Errorf("python saw %d tensors, want %d", len(res.Tensors), len(all)+3)
	}
	for _, b := range all {
		got, ok := res.Tensors[b.Name]
		if !ok || got.Dtype != "float32" || !sameShape(got.Shape, b.Shape) {
			t.Errorf("%s: python saw %+v", b.Name, got)
			continue
		}
		var s float64
		for _, v := range b.Data {
			s += float64(v)
		}
		if math.Abs(s-got.Sum) > 1e-9*math.Max(1, math.Abs(s)) {
			t.Errorf("%s: sum %v, python %v", b.Name, s, got.Sum)
		}
		for i, v := range got.Head {
			if float32(v) != b.Data[i] {
				t.Errorf("%s[%d]: %v, python %v", b.Name, i, b.Data[i], v)
			}
		}
	}
	if c := res.Tensors["f.1.num_batches_tracked"]; c.Dtype != "int64" || len(c.Head) != 1 || c.Head[0] != 1 {
		t.Errorf("num_batches_tracked: %+v", c)
	}
	if len(res.Forward) != len(y.Data) {
		t.Fatalf("python forward has %d values, want %d", len(res.Forward), len(y.Data))
	}
	if e := maxRel(y.Data, res.Forward); e > 1e-4 {
		t.Errorf("smallcnn forward: pairflow vs PyTorch rel error %.3g > 1e-4", e)
	} else {
		t.Logf("PyTorch read %d tensors; smallcnn forward pairflow vs PyTorch max rel error %.2g", len(res.Tensors), e)
	}
}

// TestSimCLRGradientsMatchPyTorch loads a SimCLR model (smallcnn + head)
// written here into PyTorch, and compares PyTorch autograd's NT-Xent loss
// and parameter gradients on the same 2N views with ours.
func TestSimCLRGradientsMatchPyTorch(t *testing.T) {
	const py = "/usr/bin/python3"
	if testing.Short() {
		t.Skip("SKIPPING PyTorch gradient comparison in -short mode (starting torch takes ~10 s)")
	}
	if err := exec.Command(py, "-c", "import torch").Run(); err != nil {
		requireTorch(t, "PyTorch gradient comparison", py, err)
	}
	s, err := NewSimCLR(Config{Channels: 3, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var ck bytes.Buffer
	if err := SaveCheckpoint[float32](&ck, s.Model(), s.Opt, 0, "{}"); err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(dir, "simclr.safetensors")
	os.WriteFile(ckpt, ck.Bytes(), 0o644)
	x := randTensor[float32](NewRNG(12), 8, 3, 16, 16)
	var in bytes.Buffer
	WriteSafetensors(&in, []STTensor{{Name: "input", DType: "F32", Shape: x.Shape, Data: encodeFloats(x.Data)}}, nil)
	inPath := filepath.Join(dir, "input.safetensors")
	os.WriteFile(inPath, in.Bytes(), 0o644)
	loss := s.Gradients(x)
	out, err := exec.Command(py, "testdata/read_safetensors.py", "--simclr", ckpt, inPath).Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	var res struct {
		Loss  float64
		Grads map[string][]float64
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	if math.Abs(loss-res.Loss) > 1e-5 {
		t.Errorf("NT-Xent: pairflow %.7f, PyTorch %.7f", loss, res.Loss)
	}
	worst := 0.0
	for _, p := range s.Params() {
		g, ok := res.Grads[p.Name]
		if !ok || len(g) != len(p.G) {
			t.Errorf("%s: PyTorch has %d gradient values, we %d", p.Name, len(g), len(p.G))
			continue
		}
		e := maxRelTo(p.G, g) // relative to the largest PyTorch gradient of the tensor
		worst = math.Max(worst, e)
		if e > 1e-4 {
			t.Errorf("%s: gradient rel error %.3g > 1e-4 (tier %v)", p.Name, e, KernelTier())
		}
	}
	t.Logf("loss pairflow %.7f PyTorch %.7f; %d parameter gradients, worst rel error %.2g (tier %v)", loss, res.Loss, len(s.Params()), worst, KernelTier())
}

// maxRelTo is max|a − b| / max|b| (no floor at 1: gradients are small).
func maxRelTo[A, B Float](a []A, b []B) float64 {
	var d, m float64
	for i := range b {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
		m = math.Max(m, math.Abs(float64(b[i])))
	}
	if m == 0 {
		return d
	}
	return d / m
}

// requireTorch skips a test that needs PyTorch when py cannot import it, or
// fails it when PAIRFLOW_REQUIRE_TORCH is set (CI installs Debian's
// python3-torch and sets it, so these checks cannot silently stop running).
func requireTorch(t *testing.T, what, py string, err error) {
	t.Helper()
	if os.Getenv("PAIRFLOW_REQUIRE_TORCH") != "" {
		t.Fatalf("%s: %s cannot import torch (%v), and PAIRFLOW_REQUIRE_TORCH is set", what, py, err)
	}
	t.Skipf("SKIPPING %s: %s cannot import torch (%v); install Debian's python3-torch to run it", what, py, err)
}
