package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/pairflow/pairflow/pipeline"
)

// DescriptorVersion is the version of the descriptor JSON (docs/serve.md).
const DescriptorVersion = 1

// Limits on descriptors.
const (
	// MaxDescriptorBytes bounds a descriptor's JSON.
	MaxDescriptorBytes = 64 << 10
	// MaxWorkerCount bounds worker_count.
	MaxWorkerCount = 256
	// MaxWorldSize bounds config.world_size (endpoints = world × workers).
	MaxWorldSize = 4096
	// MaxEndpoints bounds world_size × worker_count.
	MaxEndpoints = 1 << 16
)

// ErrDescriptor marks a malformed or invalid descriptor.
var ErrDescriptor = errors.New("serve: bad descriptor")

// Position names a batch of a rank's stream: the epoch and the batch index
// within the epoch (0-based, in the rank's order).
type Position struct {
	Epoch int64 `json:"epoch"`
	Batch int64 `json:"batch"`
}

// Descriptor is what a client asks for (docs/serve.md):
//
//	{"version":1,"dataset":"fmnist","config":{…pipeline.Config…},
//	 "worker_count":1,"start":{"epoch":0,"batch":0}}
type Descriptor struct {
	Version     int             `json:"version"`
	Dataset     string          `json:"dataset"`
	Config      json.RawMessage `json:"config"`
	WorkerCount int             `json:"worker_count,omitempty"`
	Start       *Position       `json:"start,omitempty"`
	// SkipsSpent, for a resume under the "skip" policy, holds per endpoint
	// index the skip counts the last batch consumed there carried
	// (pairflow.skipped, pairflow.epoch_skipped): the endpoint's stream
	// counts on from them, as an uninterrupted one would. Endpoints not
	// named start from zero.
	SkipsSpent map[int]SkipsSpent `json:"skips_spent,omitempty"`
}

// SkipsSpent are the skips an endpoint's stream has counted against its
// config's skip budget (pipeline.SkipPolicy: max_count over the run,
// max_fraction per epoch) before its start.
type SkipsSpent struct {
	Total int64 `json:"total"`
	Epoch int64 `json:"epoch"`
}

// normal returns sp for a start normalised (normalStart) from start to
// norm: (E, N) is (E+1, 0), and nothing of that epoch is spent.
func (sp SkipsSpent) normal(start, norm Position) SkipsSpent {
	if norm.Epoch != start.Epoch {
		sp.Epoch = 0
	}
	return sp
}

// check validates counts carried to a stream starting at start.
func (sp SkipsSpent) check(cfg *pipeline.Config, start Position) error {
	switch {
	case sp == SkipsSpent{}:
		return nil
	case cfg.Skip.Policy != pipeline.PolicySkip:
		return errors.New("skips_spent given, but the config's skip policy is not \"skip\"")
	case sp.Total < 0 || sp.Epoch < 0 || sp.Epoch > sp.Total || sp.Total > 1<<40:
		return fmt.Errorf("skips_spent total %d, epoch %d (want 0 ≤ epoch ≤ total)", sp.Total, sp.Epoch)
	case start.Batch == 0 && sp.Epoch != 0:
		return fmt.Errorf("skips_spent epoch %d at the start of epoch %d (nothing of it consumed yet: want 0)", sp.Epoch, start.Epoch)
	}
	return nil
}

// request is a parsed, validated descriptor.
type request struct {
	dataset string
	cfg     pipeline.Config // Rank 0, Workers and Prefetch 0 (the server's)
	cfgJSON []byte          // canonical JSON of cfg
	workers int             // worker_count ≥ 1
	start   Position
	spent   map[int]SkipsSpent // by endpoint index
}

// world returns the resolved world size.
func (r *request) world() int { return max(r.cfg.WorldSize, 1) }

// parseDescriptor reads and validates a descriptor from untrusted bytes.
func parseDescriptor(b []byte) (*request, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrDescriptor}, args...)...)
	}
	if len(b) > MaxDescriptorBytes {
		return nil, bad("%d bytes (at most %d)", len(b), MaxDescriptorBytes)
	}
	var d Descriptor
	if err := strictJSON(b, &d); err != nil {
		return nil, bad("%v", err)
	}
	if d.Version != DescriptorVersion {
		return nil, bad("version %d (this server reads %d)", d.Version, DescriptorVersion)
	}
	if d.Dataset == "" || len(d.Dataset) > 256 {
		return nil, bad("dataset name %q (want 1..256 bytes)", d.Dataset)
	}
	if len(d.Config) == 0 || bytes.Equal(bytes.TrimSpace(d.Config), []byte("null")) {
		return nil, bad("no config")
	}
	cfg, err := pipeline.ParseConfig(d.Config)
	if err != nil {
		return nil, bad("config: %v", err)
	}
	switch {
	case cfg.Rank != 0:
		return nil, bad("config.rank is chosen by the endpoint, not the descriptor")
	case cfg.Workers != 0 || cfg.Prefetch != 0:
		return nil, bad("config.workers and config.prefetch are the server's (leave them out)")
	case cfg.WorldSize > MaxWorldSize:
		return nil, bad("config.world_size %d (at most %d)", cfg.WorldSize, MaxWorldSize)
	}
	r := &request{dataset: d.Dataset, cfg: cfg, workers: d.WorkerCount}
	if r.workers == 0 {
		r.workers = 1
	}
	if r.workers < 1 || r.workers > MaxWorkerCount {
		return nil, bad("worker_count %d (want 1..%d)", d.WorkerCount, MaxWorkerCount)
	}
	if r.world()*r.workers > MaxEndpoints {
		return nil, bad("world_size × worker_count = %d endpoints (at most %d)", r.world()*r.workers, MaxEndpoints)
	}
	r.start = Position{Epoch: cfg.Epoch}
	if d.Start != nil {
		r.start = *d.Start
	}
	if err := checkStart(&cfg, r.start); err != nil {
		return nil, bad("%v", err)
	}
	for i, sp := range d.SkipsSpent {
		if i < 0 || i >= r.world()*r.workers {
			return nil, bad("skips_spent for endpoint %d (endpoints 0..%d)", i, r.world()*r.workers-1)
		}
		if err := sp.check(&cfg, r.start); err != nil {
			return nil, bad("endpoint %d: %v", i, err)
		}
	}
	r.spent = d.SkipsSpent
	if r.cfgJSON, err = json.Marshal(cfg); err != nil {
		return nil, bad("config: %v", err)
	}
	return r, nil
}

// checkStart checks that start lies in the configured epochs or is the run's
// end, (last+1, 0) (its batch is checked against the rank's length, and
// (E, batches per epoch) normalised to (E+1, 0), when the stream opens).
func checkStart(cfg *pipeline.Config, s Position) error {
	last := lastEpoch(cfg) // -1: unbounded
	if s.Epoch < cfg.Epoch || (last >= 0 && s.Epoch > last+1) || s.Epoch > 1<<40 {
		return fmt.Errorf("start epoch %d outside the config's epochs %d..%d", s.Epoch, cfg.Epoch, last)
	}
	if s.Batch < 0 || s.Batch > pipeline.MaxBatchSize<<20 {
		return fmt.Errorf("start batch %d", s.Batch)
	}
	if last >= 0 && s.Epoch == last+1 && s.Batch != 0 {
		return fmt.Errorf("start (%d, %d): epoch %d is the end of the run (epochs %d..%d); only (%d, 0) names it",
			s.Epoch, s.Batch, s.Epoch, cfg.Epoch, last, s.Epoch)
	}
	return nil
}

// strictJSON decodes one JSON value, refusing unknown fields and trailing
// data.
func strictJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}
