package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pairflow/pairflow/internal/cpu"
	"github.com/pairflow/pairflow/shards"
	"github.com/pairflow/pairflow/trainer"
)

// longArgs is a tiny run: 48 records, batch 16 (3 steps an epoch), 2
// epochs, no kNN monitor.
func longArgs(data string, extra ...string) []string {
	return append([]string{"--train", filepath.Join(data, "train"), "--batch", "16", "--epochs", "2", "--knn-every", "0",
		"--threads", "2", "--workers", "1", "--log-every", "0", "--no-plot"}, extra...)
}

// tierIndependent skips a test of checkpoint handling under purego: what
// it checks does not depend on the kernel tier, the plain-Go kernels make
// it ten times slower, and TestCheckpointEveryResumesMidEpoch and
// TestResumeBitIdentical run resumes on them.
func tierIndependent(t *testing.T) {
	t.Helper()
	if trainer.KernelTier() == cpu.Generic {
		t.Skip("purego: checkpoint handling does not depend on the kernel tier; the default build runs this test")
	}
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, _, stderr := runCmd(t, args...)
	if code != 0 {
		t.Fatalf("%q: exit %d: %s", args, code, stderr)
	}
	return stderr
}

func ckptNames(t *testing.T, out string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(out, "checkpoints"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func sameFile(t *testing.T, a, b string) {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x, y) {
		t.Fatalf("%s differs from %s", b, a)
	}
}

// metricsNoClock is metrics.csv without its timing columns.
func metricsNoClock(t *testing.T, out string) []epochRow {
	t.Helper()
	rows, err := readMetrics(filepath.Join(out, "metrics.csv"), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		rows[i].ImagesPS, rows[i].DataWait, rows[i].TrainSecs = 0, 0, 0
	}
	return rows
}

func sameMetrics(t *testing.T, whole, parts string) {
	t.Helper()
	a, b := metricsNoClock(t, whole), metricsNoClock(t, parts)
	eq := func(x, y epochRow) bool { // NaN-aware
		return x.Epoch == y.Epoch && x.Steps == y.Steps && (x.Loss == y.Loss || x.Loss != x.Loss && y.Loss != y.Loss) &&
			(x.Accuracy == y.Accuracy || x.Accuracy != x.Accuracy && y.Accuracy != y.Accuracy) && x.LR == y.LR
	}
	if !slices.EqualFunc(a, b, eq) {
		t.Fatalf("metrics.csv rows differ:\n%+v\n%+v", a, b)
	}
}

// partsRun is a run stopped after 4 steps (1 epoch and 1 step) with
// --checkpoint-every 2: checkpoints at steps 2 (inside epoch 1), 3 (the end
// of epoch 1) and 4 (inside epoch 2).
func partsRun(t *testing.T, data string, extra ...string) string {
	t.Helper()
	out := t.TempDir()
	mustRun(t, longArgs(data, append([]string{"--out", out, "--checkpoint-every", "2", "--stop-after-steps", "4"}, extra...)...)...)
	want := []string{"epoch-0000-step-000002.safetensors", "epoch-0001-step-000001.safetensors", "epoch-0001.safetensors"}
	if got := ckptNames(t, out); !slices.Equal(got, want) {
		t.Fatalf("checkpoints %q, want %q", got, want)
	}
	return out
}

func resumeArgs(data, out string) []string {
	return []string{"--out", out, "--train", filepath.Join(data, "train"), "--resume", "--threads", "2", "--workers", "2",
		"--log-every", "0", "--knn-every", "0", "--no-plot"}
}

// A run checkpointed inside an epoch resumes on the exact next batch: its
// checkpoints, final weights and metrics equal an uninterrupted run's.
func TestCheckpointEveryResumesMidEpoch(t *testing.T) {
	noLeaks(t)
	data := smallData(t, 48, 8)
	whole := t.TempDir()
	mustRun(t, longArgs(data, "--out", whole, "--checkpoint-every", "2")...)
	parts := partsRun(t, data)
	stderr := mustRun(t, resumeArgs(data, parts)...)
	if !strings.Contains(stderr, "resuming simclr at epoch 2/2 step 1/3 (step 4 of the run) from") ||
		!strings.Contains(stderr, "epoch-0001-step-000001.safetensors") {
		t.Fatalf("resume said:\n%s", stderr)
	}
	for _, n := range []string{"epoch-0001-step-000001.safetensors", "epoch-0002.safetensors"} {
		sameFile(t, filepath.Join(whole, "checkpoints", n), filepath.Join(parts, "checkpoints", n))
	}
	sameMetrics(t, whole, parts)
}

// --keep-checkpoints K leaves the K newest checkpoints and no temporary
// files.
func TestKeepCheckpoints(t *testing.T) {
	tierIndependent(t)
	data := smallData(t, 48, 8)
	out := t.TempDir()
	mustRun(t, longArgs(data, "--out", out, "--checkpoint-every", "1", "--keep-checkpoints", "2")...)
	want := []string{"epoch-0001-step-000002.safetensors", "epoch-0002.safetensors"}
	if got := ckptNames(t, out); !slices.Equal(got, want) {
		t.Fatalf("checkpoints %q, want %q", got, want)
	}
	ents, _ := os.ReadDir(out)
	for _, e := range ents {
		if strings.Contains(e.Name(), "tmp") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	if code, _, stderr := runCmd(t, longArgs(data, "--out", t.TempDir(), "--keep-checkpoints", "-1")...); code == 0 || !strings.Contains(stderr, "--keep-checkpoints") {
		t.Errorf("--keep-checkpoints -1: exit %d, %s", code, stderr)
	}
}

// --resume falls back to the newest checkpoint that verifies, saying so,
// and still ends on the uninterrupted run's weights; it fails only when no
// checkpoint verifies.
func TestResumeFallsBack(t *testing.T) {
	tierIndependent(t)
	noLeaks(t)
	data := smallData(t, 48, 8)
	whole := t.TempDir()
	mustRun(t, longArgs(data, "--out", whole)...)
	newest := func(out string) string {
		return filepath.Join(out, "checkpoints", "epoch-0001-step-000001.safetensors")
	}
	for _, c := range []struct {
		name   string
		damage func(b []byte) []byte
		why    string
	}{
		{"flipped byte", func(b []byte) []byte { b[len(b)-7] ^= 4; return b }, "damaged"},
		{"cut short", func(b []byte) []byte { return b[:len(b)/2] }, "the header declares"},
		{"empty", func(b []byte) []byte { return nil }, "shorter than the 8-byte header length"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.name != "flipped byte" && testing.Short() {
				t.Skip("-short: one kind of damage only")
			}
			parts := partsRun(t, data)
			b, err := os.ReadFile(newest(parts))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(newest(parts), c.damage(b), 0o644)
			stderr := mustRun(t, resumeArgs(data, parts)...)
			for _, want := range []string{"checkpoint epoch-0001-step-000001.safetensors does not verify", c.why,
				"falling back to epoch-0001.safetensors, the newest checkpoint that verifies", "resuming simclr at epoch 1/2 (step 3)"} {
				if !strings.Contains(stderr, want) {
					t.Fatalf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			sameFile(t, filepath.Join(whole, "checkpoints", "epoch-0002.safetensors"), filepath.Join(parts, "checkpoints", "epoch-0002.safetensors"))
			if _, err := os.Stat(newest(parts) + ".damaged"); err != nil {
				t.Errorf("the damaged checkpoint was not kept aside: %v", err)
			}
		})
	}
	// Nothing verifies: the resume fails and names every file.
	parts := partsRun(t, data)
	for _, n := range ckptNames(t, parts) {
		os.WriteFile(filepath.Join(parts, "checkpoints", n), []byte("garbage"), 0o644)
	}
	code, _, stderr := runCmd(t, resumeArgs(data, parts)...)
	if code != 1 || !strings.Contains(stderr, "none of the 3 checkpoints") || strings.Count(stderr, "does not verify") != 3 {
		t.Fatalf("no checkpoint verifies: exit %d:\n%s", code, stderr)
	}
}

// rewriteMeta re-saves a checkpoint (with a valid checksum) after change
// edits its pretrain configuration: a checkpoint that is whole but lies.
func rewriteMeta(t *testing.T, path string, records int, change func(m *checkpointMeta)) {
	t.Helper()
	ck, err := trainer.ReadCheckpointFile(path)
	if err != nil {
		t.Fatal(err)
	}
	info := ck.Info
	m, err := decodeMeta(ck.File, path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := m.Run
	sched, err := schedule(&cfg, records/cfg.Batch)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := newObjective(&cfg, sched)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := trainer.LoadCheckpointFrom(ck, obj.model(), obj.opt()); err != nil {
		t.Fatal(err)
	}
	change(m)
	js, _ := json.Marshal(m)
	var buf bytes.Buffer
	if err := trainer.SaveCheckpoint(&buf, obj.model(), obj.opt(), info.Step, string(js)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A checkpoint whose epoch and step disagree with the pipeline state it
// holds is refused (resuming from it would train on another stream): the
// resume falls back past it, or fails when it is the only one.
func TestResumeRefusesStreamMismatch(t *testing.T) {
	tierIndependent(t)
	data := smallData(t, 48, 8)
	parts := partsRun(t, data)
	ck := filepath.Join(parts, "checkpoints")
	endOf1, err := trainer.ReadCheckpointFile(filepath.Join(ck, "epoch-0001.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	m1, _ := decodeMeta(endOf1.File, "epoch-0001")
	// The mid-epoch checkpoint now carries the state of the epoch's end.
	rewriteMeta(t, filepath.Join(ck, "epoch-0001-step-000001.safetensors"), 48, func(m *checkpointMeta) { m.Pipeline = m1.Pipeline })
	stderr := mustRun(t, resumeArgs(data, parts)...)
	if !strings.Contains(stderr, "resuming would train on another stream") || !strings.Contains(stderr, "falling back to epoch-0001.safetensors") {
		t.Fatalf("stderr:\n%s", stderr)
	}

	parts = partsRun(t, data)
	ck = filepath.Join(parts, "checkpoints")
	os.Remove(filepath.Join(ck, "epoch-0001.safetensors"))
	os.Remove(filepath.Join(ck, "epoch-0000-step-000002.safetensors"))
	rewriteMeta(t, filepath.Join(ck, "epoch-0001-step-000001.safetensors"), 48, func(m *checkpointMeta) { m.Epoch = 0 })
	code, _, stderr := runCmd(t, resumeArgs(data, parts)...)
	if code != 1 || !strings.Contains(stderr, "its name at") || !strings.Contains(stderr, "none of the 1 checkpoints") {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
}

// badData is smallData's train split of n records with records bad[i]
// stored as undecodable PNG bytes.
func badData(t *testing.T, n int, bad ...int) string {
	t.Helper()
	src := smallData(t, n, 8)
	in, err := shards.Open(filepath.Join(src, "train"))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dst := t.TempDir()
	w, err := shards.Create(filepath.Join(dst, "train"), shards.WriterOptions{Split: "train"})
	if err != nil {
		t.Fatal(err)
	}
	var rec shards.Record
	for i := range n {
		if err := in.Record(i, &rec); err != nil {
			t.Fatal(err)
		}
		pix, err := rec.AppendPixels(nil)
		if err != nil {
			t.Fatal(err)
		}
		r := shards.Record{Key: rec.Key, Label: rec.Label, HasLabel: rec.HasLabel, Width: rec.Width,
			Height: rec.Height, Channels: rec.Channels, Encoding: shards.RawZstd, Payload: pix}
		if slices.Contains(bad, i) {
			r.Encoding, r.Payload, r.Channels = shards.PNG, []byte("\x89PNG\r\n\x1a\n-not-really"), 0
		}
		if err := w.Append(&r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// One bad record stops a run unless --skip-budget allows skipping it; the
// skips are reported and counted across resumes.
func TestSkipBudget(t *testing.T) {
	tierIndependent(t)
	noLeaks(t)
	data := badData(t, 48, 5)
	code, _, stderr := runCmd(t, longArgs(data, "--out", t.TempDir())...)
	if code != 1 || !strings.Contains(stderr, "bad record") || !strings.Contains(stderr, "--skip-budget N lets the run skip") {
		t.Fatalf("without a budget: exit %d:\n%s", code, stderr)
	}
	out := t.TempDir()
	stderr = mustRun(t, longArgs(data, "--out", out, "--skip-budget", "3", "--stop-after", "1")...)
	if !strings.Contains(stderr, "epoch 1: 1 bad records skipped so far in the run (budget 3)") {
		t.Fatalf("skips not reported:\n%s", stderr)
	}
	// The second epoch's skip is the run's second: a budget of 1 is spent.
	code, _, stderr = runCmd(t, append(resumeArgs(data, out), "--skip-budget", "1")...)
	if code != 1 || !strings.Contains(stderr, "skip") {
		t.Fatalf("resume over budget: exit %d:\n%s", code, stderr)
	}
	stderr = mustRun(t, append(resumeArgs(data, out), "--skip-budget", "2")...)
	if !strings.Contains(stderr, "epoch 2: 2 bad records skipped so far in the run (budget 2)") {
		t.Fatalf("resumed skips not reported:\n%s", stderr)
	}
}
