package sampler

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// StateVersion is the version of the State encoding and of the orders it
// refers to: a State of version v restores the exact stream only in code that
// produces the same orders, so any change to the permutation, the key
// derivation or the rank split must bump it.
const StateVersion = 1

// MaxStateBytes bounds the encoded size DecodeState accepts.
const MaxStateBytes = 4096

// State is the resumable state of one rank's [Stream], serialised as JSON:
//
//	{"version":1,"fingerprint":"…","layout":"…","seed":"42","epoch":3,
//	 "position":1200,"skipped":2,"world_size":8,"rank":5}
//
// The seed is a decimal string so that JSON readers with float64 numbers
// (JavaScript, Python's json with some settings) do not round it.
//
// Position counts the samples of the current epoch that the consumer side has
// taken (through Next), not what producers prefetched with At: a pipeline saves
// the State of the Stream it advances as batches are delivered. Skipped is the
// running total of samples the pipeline counted as skipped (CountSkipped).
type State struct {
	Version     int    `json:"version"`
	Fingerprint string `json:"fingerprint"` // see Fingerprint; may be empty
	Layout      string `json:"layout"`      // hash of the sampler's own parameters
	Seed        uint64 `json:"seed,string"`
	Epoch       int64  `json:"epoch"`
	Position    int64  `json:"position"`
	Skipped     int64  `json:"skipped"`
	WorldSize   int    `json:"world_size"`
	Rank        int    `json:"rank"`
}

// Encode returns the JSON encoding of s. It returns an error wrapping
// [ErrVersion] or [ErrState] if s would not decode.
func (s State) Encode() ([]byte, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	return json.Marshal(s)
}

// DecodeState parses a State encoded by [State.Encode]. It refuses input over
// MaxStateBytes, unknown fields, trailing data and out-of-range values
// ([ErrState]) and any version other than StateVersion ([ErrVersion]).
func DecodeState(data []byte) (State, error) {
	if len(data) > MaxStateBytes {
		return State{}, fmt.Errorf("sampler: state of %d bytes (limit %d): %w", len(data), MaxStateBytes, ErrState)
	}
	var probe struct {
		Version *json.Number `json:"version"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return State{}, fmt.Errorf("sampler: state: %v: %w", err, ErrState)
	}
	if probe.Version == nil {
		return State{}, fmt.Errorf("sampler: state has no version field: %w", ErrVersion)
	}
	if v, err := probe.Version.Int64(); err != nil || v != StateVersion {
		return State{}, fmt.Errorf("sampler: state version %s (this code reads version %d): %w", probe.Version.String(), StateVersion, ErrVersion)
	}
	var s State
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return State{}, fmt.Errorf("sampler: state: %v: %w", err, ErrState)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return State{}, fmt.Errorf("sampler: state: data after the JSON object: %w", ErrState)
	}
	if err := s.validate(); err != nil {
		return State{}, err
	}
	return s, nil
}

func (s State) validate() error {
	if s.Version != StateVersion {
		return fmt.Errorf("sampler: state version %d (this code reads version %d): %w", s.Version, StateVersion, ErrVersion)
	}
	switch {
	case s.Fingerprint != "" && !isHex(s.Fingerprint, 64):
		return fmt.Errorf("sampler: state fingerprint %q is not 64 hex digits: %w", s.Fingerprint, ErrState)
	case !isHex(s.Layout, 16):
		return fmt.Errorf("sampler: state layout %q is not 16 hex digits: %w", s.Layout, ErrState)
	case s.Epoch < 0 || s.Epoch > maxEpoch:
		return fmt.Errorf("sampler: state epoch %d: %w", s.Epoch, ErrState)
	case s.Position < 0 || s.Position > MaxRecords:
		return fmt.Errorf("sampler: state position %d: %w", s.Position, ErrState)
	case s.Skipped < 0:
		return fmt.Errorf("sampler: state skipped count %d: %w", s.Skipped, ErrState)
	case s.WorldSize < 1 || s.WorldSize > MaxWorldSize:
		return fmt.Errorf("sampler: state world size %d: %w", s.WorldSize, ErrState)
	case s.Rank < 0 || s.Rank >= s.WorldSize:
		return fmt.Errorf("sampler: state rank %d of world size %d: %w", s.Rank, s.WorldSize, ErrState)
	}
	return nil
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// FingerprintInput lists what outside the sampler fixes a training stream.
// Worker count, prefetch depth, CPU split and world size are deliberately
// absent: they may change between runs without changing the stream.
type FingerprintInput struct {
	// Manifest is the dataset manifest's bytes, or a hash of them.
	Manifest []byte
	// PairKind names the pair kind ("simclr", "inpainting", …).
	PairKind string
	// Recipe is the augmentation recipe's JSON, byte for byte as the
	// pipeline stores it (re-indenting it changes the fingerprint).
	Recipe    []byte
	Seed      uint64
	BatchSize int
	Tail      Tail // pad (Wrap) or drop policy
}

// Fingerprint returns the SHA-256 (lower-case hex) of exactly the fields of
// in, each length-prefixed so that no two different inputs share an encoding.
func Fingerprint(in FingerprintInput) string {
	h := sha256.New()
	var buf [8]byte
	putU := func(v uint64) {
		binary.LittleEndian.PutUint64(buf[:], v)
		h.Write(buf[:])
	}
	putB := func(b []byte) {
		putU(uint64(len(b)))
		h.Write(b)
	}
	putB([]byte("pairflow/sampler/fingerprint/v1"))
	putB(in.Manifest)
	putB([]byte(in.PairKind))
	putB(in.Recipe)
	putU(in.Seed)
	putU(uint64(int64(in.BatchSize)))
	putU(uint64(in.Tail))
	return hex.EncodeToString(h.Sum(nil))
}
