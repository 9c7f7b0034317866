// Package safetensors reads and writes the safetensors format
// (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length, a JSON header mapping tensor names to dtype, shape and
// data_offsets (plus an optional "__metadata__" string map), then the raw
// little-endian tensor data.
//
// Read is a bounded parser for untrusted files: it validates the header
// before trusting it and allocates only as data actually arrives. Only the
// dtypes pairflow's trainer uses are supported (F32, F64, I64). This package
// knows nothing about models; see package trainer for checkpoints.
package safetensors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/pairflow/pairflow/internal/inputfile"
)

// Sentinel errors.
var (
	// ErrFormat means a file is malformed (truncated, bad header, offsets
	// out of range, unsupported dtype).
	ErrFormat = errors.New("malformed safetensors file")
	// ErrInvalid means Write was given tensors it cannot write (bad name,
	// dtype or data length).
	ErrInvalid = errors.New("invalid tensor for safetensors")
)

// Limits on what the safetensors reader accepts before allocating.
const (
	// MaxHeaderBytes bounds the JSON header (the safetensors reference
	// implementation's limit).
	MaxHeaderBytes = 100 << 20
	// MaxTensors bounds the number of tensors in one file.
	MaxTensors = 1 << 16
	maxRank    = 8
)

// Tensor is one tensor of a safetensors file: its name, dtype ("F32",
// "F64" or "I64"), shape and raw little-endian data.
type Tensor struct {
	Name  string
	DType string
	Shape []int
	Data  []byte
}

// File is a parsed safetensors file.
type File struct {
	Metadata map[string]string
	Tensors  []Tensor // sorted by data offset
	byName   map[string]int
}

// Tensor returns the named tensor.
func (f *File) Tensor(name string) (Tensor, bool) {
	i, ok := f.byName[name]
	if !ok {
		return Tensor{}, false
	}
	return f.Tensors[i], true
}

// DTypeSize is the byte size of an element of a supported dtype, 0 for
// others.
func DTypeSize(dt string) int {
	switch dt {
	case "F32":
		return 4
	case "F64", "I64":
		return 8
	}
	return 0
}

type stEntry struct {
	DType   string   `json:"dtype"`
	Shape   []int    `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// Write writes tensors (laid out in name order) and metadata in
// the safetensors format: an 8-byte little-endian header length, a JSON
// header padded with spaces to a multiple of 8 bytes, then the data. The
// output is a deterministic function of the arguments.
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	ts := append([]Tensor(nil), tensors...)
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	header := map[string]any{}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var off int64
	for i, t := range ts {
		if t.Name == "__metadata__" || t.Name == "" || (i > 0 && ts[i-1].Name == t.Name) {
			return fmt.Errorf("safetensors: bad or duplicate tensor name %q: %w", t.Name, ErrInvalid)
		}
		sz := DTypeSize(t.DType)
		if cnt, ok := numel(t.Shape); !ok || sz == 0 || cnt*sz != len(t.Data) {
			return fmt.Errorf("safetensors: tensor %q: dtype %q shape %v with %d bytes: %w", t.Name, t.DType, t.Shape, len(t.Data), ErrInvalid)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[t.Name] = stEntry{DType: t.DType, Shape: shape, Offsets: [2]int64{off, off + int64(len(t.Data))}}
		off += int64(len(t.Data))
	}
	hj, err := json.Marshal(header)
	if err != nil {
		return err
	}
	for len(hj)%8 != 0 {
		hj = append(hj, ' ')
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(hj)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	if _, err := w.Write(hj); err != nil {
		return err
	}
	for _, t := range ts {
		if _, err := w.Write(t.Data); err != nil {
			return err
		}
	}
	return nil
}

// Read parses a safetensors file from r; name labels errors. It
// checks everything before trusting it: header length within
// MaxHeaderBytes, valid JSON, known dtypes, shapes whose size matches their
// byte range, ranges that tile the data section exactly, and a data section
// of exactly that length. Memory grows only as data actually arrives.
func Read(r io.Reader, name string) (*File, error) {
	return ReadSized(r, -1, name)
}

// ReadSized is Read for an input of known length size (a regular file's
// size; -1 if unknown): the lengths the file declares — of its header, then
// of its data — are checked against size before either is read, so a
// damaged length fails at once with both figures.
func ReadSized(r io.Reader, size int64, name string) (*File, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("safetensors: %s: %s: %w", name, fmt.Sprintf(format, args...), ErrFormat)
	}
	if size >= 0 && size < 8 {
		return nil, bad("%d bytes, shorter than the 8-byte header length", size)
	}
	var n [8]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, bad("reading header length: %v", err)
	}
	hl := binary.LittleEndian.Uint64(n[:])
	if hl < 2 || hl > MaxHeaderBytes {
		return nil, bad("header length %d outside [2, %d]", hl, MaxHeaderBytes)
	}
	if size >= 0 && hl > uint64(size-8) {
		return nil, bad("header length %d, but the file has %d bytes after the length", hl, size-8)
	}
	hj, err := io.ReadAll(io.LimitReader(r, int64(hl)))
	if err != nil {
		return nil, bad("reading header: %v", err)
	}
	if uint64(len(hj)) != hl {
		return nil, bad("header truncated at %d of %d bytes", len(hj), hl)
	}
	if hj[0] != '{' {
		return nil, bad("header does not start with '{'")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hj, &raw); err != nil {
		return nil, bad("header JSON: %v", err)
	}
	if len(raw) > MaxTensors+1 {
		return nil, bad("%d header entries, more than %d", len(raw), MaxTensors)
	}
	f := &File{Metadata: map[string]string{}, byName: map[string]int{}}
	type span struct {
		t        Tensor
		from, to int64
	}
	var spans []span
	for k, v := range raw {
		if k == "__metadata__" {
			if err := json.Unmarshal(v, &f.Metadata); err != nil {
				return nil, bad("__metadata__ is not a string map: %v", err)
			}
			continue
		}
		var e stEntry
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return nil, bad("tensor %q: %v", k, err)
		}
		sz := DTypeSize(e.DType)
		if sz == 0 {
			return nil, bad("tensor %q: unsupported dtype %q", k, e.DType)
		}
		if len(e.Shape) > maxRank {
			return nil, bad("tensor %q: rank %d > %d", k, len(e.Shape), maxRank)
		}
		cnt := int64(1)
		for _, d := range e.Shape {
			if d < 0 || (d > 0 && cnt > math.MaxInt32/int64(d)) {
				return nil, bad("tensor %q: bad shape %v", k, e.Shape)
			}
			cnt *= int64(d)
		}
		if e.Offsets[0] < 0 || e.Offsets[1] < e.Offsets[0] || e.Offsets[1]-e.Offsets[0] != cnt*int64(sz) {
			return nil, bad("tensor %q: data_offsets %v do not hold shape %v of %s", k, e.Offsets, e.Shape, e.DType)
		}
		shape := e.Shape
		if shape == nil {
			shape = []int{}
		}
		spans = append(spans, span{Tensor{Name: k, DType: e.DType, Shape: shape}, e.Offsets[0], e.Offsets[1]})
	}
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].from != spans[j].from {
			return spans[i].from < spans[j].from
		}
		return spans[i].to < spans[j].to
	})
	var end int64
	for _, s := range spans {
		if s.from != end {
			return nil, bad("tensor %q starts at byte %d, want %d (data must be contiguous)", s.t.Name, s.from, end)
		}
		end = s.to
	}
	if rest := size - 8 - int64(hl); size >= 0 && rest != end {
		return nil, bad("the header declares %d bytes of tensor data, the file holds %d", end, rest)
	}
	data, err := io.ReadAll(io.LimitReader(r, end+1))
	if err != nil {
		return nil, bad("reading data: %v", err)
	}
	if int64(len(data)) < end {
		return nil, bad("data truncated at %d of %d bytes", len(data), end)
	}
	if int64(len(data)) > end {
		return nil, bad("trailing bytes after %d bytes of data", end)
	}
	for i, s := range spans {
		s.t.Data = data[s.from:s.to:s.to]
		f.Tensors = append(f.Tensors, s.t)
		f.byName[s.t.Name] = i
	}
	return f, nil
}

// ReadFile reads the safetensors file at path with ReadSized. Only a
// regular file is read (see package inputfile): a device or FIFO is refused
// at once.
func ReadFile(path string) (*File, error) {
	f, size, err := inputfile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	defer f.Close()
	return ReadSized(bufio.NewReaderSize(f, 1<<16), size, path)
}

// numel is the element count of a shape, false for a negative dimension or a
// count above MaxInt32.
func numel(shape []int) (int, bool) {
	n := 1
	for _, d := range shape {
		if d < 0 || (d > 0 && n > math.MaxInt32/d) {
			return 0, false
		}
		n *= d
	}
	return n, true
}
