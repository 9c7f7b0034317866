package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pairflow/pairflow/internal/atomicfile"
	"github.com/pairflow/pairflow/pipeline"
	"github.com/pairflow/pairflow/trainer"
)

// Checkpoints live in OUT/checkpoints. An epoch's end is
// epoch-EEEE.safetensors (E epochs done); a checkpoint inside an epoch
// (--checkpoint-every) is epoch-EEEE-step-SSSSSS.safetensors: E epochs
// and S steps of the next one done. Every checkpoint holds the pipeline's
// exact State, so --resume continues on the very next batch.

// ckptPos is a checkpoint's place in the run.
type ckptPos struct {
	Epoch int // epochs completed
	Step  int // steps done in the next epoch (0 at an epoch's end)
}

func (p ckptPos) name() string {
	if p.Step == 0 {
		return fmt.Sprintf("epoch-%04d.safetensors", p.Epoch)
	}
	return fmt.Sprintf("epoch-%04d-step-%06d.safetensors", p.Epoch, p.Step)
}

func (p ckptPos) String() string {
	if p.Step == 0 {
		return fmt.Sprintf("the end of epoch %d", p.Epoch)
	}
	return fmt.Sprintf("epoch %d step %d", p.Epoch+1, p.Step)
}

func (p ckptPos) compare(q ckptPos) int {
	return cmp.Or(cmp.Compare(p.Epoch, q.Epoch), cmp.Compare(p.Step, q.Step))
}

// parseCkptName is the inverse of ckptPos.name.
func parseCkptName(name string) (ckptPos, bool) {
	var p ckptPos
	if _, err := fmt.Sscanf(name, "epoch-%04d-step-%06d.safetensors", &p.Epoch, &p.Step); err == nil && p.Step > 0 && p.name() == name {
		return p, true
	}
	p.Step = 0
	if _, err := fmt.Sscanf(name, "epoch-%04d.safetensors", &p.Epoch); err == nil && p.name() == name {
		return p, true
	}
	return ckptPos{}, false
}

// ckptName is the checkpoint file of the end of epoch e (1-based).
func ckptName(out string, e int) string {
	return filepath.Join(out, "checkpoints", ckptPos{Epoch: e}.name())
}

type ckptFile struct {
	path string
	pos  ckptPos
}

// listCheckpoints returns out's checkpoints, newest first.
func listCheckpoints(out string) ([]ckptFile, error) {
	dir := filepath.Join(out, "checkpoints")
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var cs []ckptFile
	for _, e := range ents {
		if p, ok := parseCkptName(e.Name()); ok {
			cs = append(cs, ckptFile{filepath.Join(dir, e.Name()), p})
		}
	}
	slices.SortFunc(cs, func(a, b ckptFile) int { return b.pos.compare(a.pos) })
	return cs, nil
}

// resumePoint is a checkpoint that verified: its parsed file and what it
// says (file.Info), its pretrain metadata and the pipeline state to resume
// from.
type resumePoint struct {
	ckptFile
	file  *trainer.Checkpoint
	meta  *checkpointMeta
	state pipeline.State
}

// verifyCheckpoint reads c and checks everything that can be checked before
// training on it: the safetensors structure against the file's size, the
// checksum, the run's configuration, and that the position the checkpoint
// claims — its name, its epoch and step, the trainer's step count — is the
// position of the pipeline state it holds, so that a resumed run cannot go
// on along a different stream. records is the training split's length.
func verifyCheckpoint(c ckptFile, records int) (*resumePoint, error) {
	ck, err := trainer.ReadCheckpointFile(c.path)
	if err != nil {
		return nil, err
	}
	f, info := ck.File, ck.Info
	m, err := decodeMeta(f, c.path)
	if err != nil {
		return nil, err
	}
	st, err := pipeline.DecodeState(m.Pipeline)
	if err != nil {
		return nil, fmt.Errorf("%s: pipeline state: %w", c.path, err)
	}
	if m.Run.Batch < 1 || records/m.Run.Batch < 1 {
		return nil, fmt.Errorf("%s: batch %d for %d records", c.path, m.Run.Batch, records)
	}
	stepsPerEpoch := records / m.Run.Batch
	pos := ckptPos{Epoch: m.Epoch, Step: m.StepInEpoch}
	ss := st.Sampler
	switch {
	case pos != c.pos:
		return nil, fmt.Errorf("%s: the checkpoint says it is at %v, its name at %v", c.path, pos, c.pos)
	case m.StepInEpoch < 0 || m.StepInEpoch >= stepsPerEpoch || m.Epoch < 0 || m.Epoch > m.Run.Epochs:
		return nil, fmt.Errorf("%s: epoch %d step %d is outside a run of %d epochs of %d steps", c.path, m.Epoch, m.StepInEpoch, m.Run.Epochs, stepsPerEpoch)
	case info.Step != int64(m.Epoch*stepsPerEpoch+m.StepInEpoch):
		return nil, fmt.Errorf("%s: trainer step %d, but %v is step %d", c.path, info.Step, pos, m.Epoch*stepsPerEpoch+m.StepInEpoch)
	case ss.Epoch != int64(m.Epoch) || ss.Position != int64(m.StepInEpoch*m.Run.Batch) || st.Batches != info.Step || ss.WorldSize != 1:
		return nil, fmt.Errorf("%s: the checkpoint is at %v (step %d) but its pipeline state at epoch %d position %d after %d batches: "+
			"resuming would train on another stream", c.path, pos, info.Step, ss.Epoch+1, ss.Position, st.Batches)
	}
	return &resumePoint{ckptFile: c, file: ck, meta: m, state: st}, nil
}

// findResumePoint returns the newest checkpoint in out that verifies,
// saying on log which newer ones did not (they are renamed *.damaged, so
// that they are kept for inspection but never taken again). It fails only
// when there is none or none verifies.
func findResumePoint(out string, records int, log io.Writer) (*resumePoint, error) {
	cs, err := listCheckpoints(out)
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, fmt.Errorf("--resume: no checkpoint in %s", filepath.Join(out, "checkpoints"))
	}
	var bad []string
	for _, c := range cs {
		rp, err := verifyCheckpoint(c, records)
		if err != nil {
			fmt.Fprintf(log, "pretrain: checkpoint %s does not verify: %v\n", filepath.Base(c.path), err)
			bad = append(bad, c.path)
			continue
		}
		if len(bad) > 0 {
			for _, b := range bad {
				if err := os.Rename(b, b+".damaged"); err != nil {
					return nil, err
				}
			}
			if err := atomicfile.SyncDir(filepath.Dir(c.path)); err != nil {
				return nil, err
			}
			fmt.Fprintf(log, "pretrain: falling back to %s, the newest checkpoint that verifies (%d newer renamed *.damaged)\n",
				filepath.Base(c.path), len(bad))
		}
		return rp, nil
	}
	return nil, fmt.Errorf("--resume: none of the %d checkpoints in %s verifies (see above)", len(cs), filepath.Join(out, "checkpoints"))
}

// decodeMeta reads pretrain's configuration out of a checkpoint.
func decodeMeta(f *trainer.STFile, path string) (*checkpointMeta, error) {
	var m checkpointMeta
	dec := json.NewDecoder(strings.NewReader(f.Metadata[trainer.MetaConfig]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: not a tools/pretrain checkpoint: %w", path, err)
	}
	return &m, nil
}

// saveCheckpoint writes the checkpoint of position pos (atomically and
// durably: see package atomicfile) and, with keep > 0, removes all but the
// keep newest checkpoints. It returns the path. The bytes depend on the
// run's configuration and position only (no clock), so a resumed run's
// checkpoints equal an uninterrupted run's byte for byte. lossSum and
// accSum are the sums over the steps of the epoch in progress (0 at an
// epoch's end).
func saveCheckpoint(obj objective, cfg *runConfig, p *pipeline.Pipeline, pos ckptPos, lossSum, accSum float64, out string, keep int) (string, error) {
	st, err := p.State().Encode()
	if err != nil {
		return "", err
	}
	m := checkpointMeta{Model: cfg.Model, Channels: cfg.Channels, Size: cfg.Size, Objective: cfg.Objective,
		Recipe: cfg.Recipe, Run: *cfg, Epoch: pos.Epoch, StepInEpoch: pos.Step, LossSum: lossSum, AccSum: accSum, Pipeline: st}
	js, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := trainer.SaveCheckpoint(&buf, obj.model(), obj.opt(), obj.steps(), string(js)); err != nil {
		return "", err
	}
	path := filepath.Join(out, "checkpoints", pos.name())
	if err := atomicfile.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return "", err
	}
	if keep > 0 {
		cs, err := listCheckpoints(out)
		if err != nil {
			return "", err
		}
		for _, c := range cs[min(keep, len(cs)):] {
			if err := os.Remove(c.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return "", err
			}
		}
		if len(cs) > keep {
			if err := atomicfile.SyncDir(filepath.Dir(path)); err != nil {
				return "", err
			}
		}
	}
	return path, nil
}
