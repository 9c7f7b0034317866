package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pairflow/pairflow/sampler"
	"github.com/pairflow/pairflow/shards"
	"github.com/pairflow/pairflow/tools/internal/cli/clitest"
	"github.com/pairflow/pairflow/trainer"
)

const side, classes = 12, 4

// writeSplit packs n gray side×side records whose class (i % classes) shows
// as a bright horizontal band at rows 3c..3c+2 over a record-dependent
// texture, so that even random features separate the classes.
func writeSplit(t *testing.T, n int, offset int) string {
	t.Helper()
	dir := t.TempDir()
	w, err := shards.Create(dir, shards.WriterOptions{Split: "s", MaxShardRecords: 50,
		Classes: []string{"a", "b", "c", "d"}})
	if err != nil {
		t.Fatal(err)
	}
	pix := make([]byte, side*side)
	for i := range n {
		c := i % classes
		for y := range side {
			for x := range side {
				v := uint8(((i+offset)*37 + x*11 + y*5) % 90)
				if y/3 == c {
					v += 150
				}
				pix[y*side+x] = v
			}
		}
		r := &shards.Record{Key: fmt.Sprintf("r%04d", i), Label: int32(c), HasLabel: true,
			Width: side, Height: side, Channels: 1, Encoding: shards.RawS2, Payload: pix}
		if err := w.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func runArgs(args ...string) (int, string, string) {
	var o, e bytes.Buffer
	code := run(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}

func readResultsT(t *testing.T, dir string) *Results {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, resultsName))
	if err != nil {
		t.Fatal(err)
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func TestFlagErrors(t *testing.T) {
	train, test := writeSplit(t, 8, 0), writeSplit(t, 8, 1)
	base := []string{"--train", train, "--test", test, "--out", t.TempDir()}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--baseline", "random"}, "--train, --test and --out are required"},
		{slices.Clone(base), "give --encoder CKPT or --baseline"},
		{append(slices.Clone(base), "--baseline", "random", "--encoder", "x"), "not both"},
		{append(slices.Clone(base), "--baseline", "imagenet"), `--baseline "imagenet"`},
		{append(slices.Clone(base), "--baseline", "random", "--mode", "probe"), `--mode "probe"`},
		{append(slices.Clone(base), "--baseline", "random", "--mode", "finetune"), "linear probe"},
		{append(slices.Clone(base), "--baseline", "supervised", "--mode", "linear"), "--mode finetune"},
		{append(slices.Clone(base), "--baseline", "random", "--fractions", "0.1,2"), "not in (0, 1]"},
		{append(slices.Clone(base), "--baseline", "random", "--fractions", "0"), "not in (0, 1]"},
		{append(slices.Clone(base), "--baseline", "random", "--fractions", "a"), "--fractions"},
		{append(slices.Clone(base), "--baseline", "random", "--fractions", "0.1,0.1"), "repeats"},
		{append(slices.Clone(base), "--baseline", "random", "--seeds", "1,-2"), "--seeds"},
		{append(slices.Clone(base), "--baseline", "random", "--seeds", "3,3"), "repeats"},
		{append(slices.Clone(base), "--baseline", "random", "--std", "0"), "positive"},
		{append(slices.Clone(base), "--baseline", "random", "--passes", "0"), "--passes 0"},
		{append(slices.Clone(base), "--baseline", "supervised", "--steps", "-1"), "--steps -1"},
		{append(slices.Clone(base), "--baseline", "supervised", "--crop-scale", "0.6,0.5"), "--crop-scale"},
		{append(slices.Clone(base), "--baseline", "random", "--model", "vit"), `--model "vit"`},
		{append(slices.Clone(base), "--baseline", "random", "--mean", "0.1,0.2"), "2 values for 1 channels"},
		{append(slices.Clone(base), "--baseline", "random", "extra"), "unexpected argument"},
		{append(slices.Clone(base), "--baseline", "random", "--no-such-flag"), "no-such-flag"},
	} {
		code, _, stderr := runArgs(c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
	if code, _, stderr := runArgs("--help"); code != 0 || !strings.Contains(stderr, "usage: lineval") {
		t.Errorf("--help: exit %d, stderr %q", code, stderr)
	}
}

func TestMissingFiles(t *testing.T) {
	train, test := writeSplit(t, 8, 0), writeSplit(t, 8, 1)
	missing := filepath.Join(t.TempDir(), "nope")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--baseline", "random", "--train", missing, "--test", test, "--out", t.TempDir()}, missing},
		{[]string{"--baseline", "random", "--train", train, "--test", missing, "--out", t.TempDir()}, missing},
		{[]string{"--encoder", missing + ".safetensors", "--train", train, "--test", test, "--out", t.TempDir()}, missing + ".safetensors"},
	} {
		code, _, stderr := runArgs(c.args...)
		if code != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want 1 and the path", c.args, code, stderr)
		}
	}
	// A results.json that is not ours is not overwritten.
	out := t.TempDir()
	os.WriteFile(filepath.Join(out, resultsName), []byte(`{"something":"else"}`), 0o644)
	code, _, stderr := runArgs("--baseline", "random", "--train", train, "--test", test, "--out", out, "--passes", "1", "--fractions", "1", "--quiet")
	if code != 1 || !strings.Contains(stderr, "cannot merge") {
		t.Errorf("foreign results.json: exit %d, stderr %q", code, stderr)
	}
}

// saveCheckpoint writes a SimCLR checkpoint of a 1-channel smallcnn.
func saveCheckpoint(t *testing.T) string {
	t.Helper()
	s, err := trainer.NewSimCLR(trainer.Config{Model: "smallcnn", Channels: 1, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "simclr.safetensors")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := trainer.SaveCheckpoint(f, s.Model(), s.Opt, 10,
		`{"model":"smallcnn","channels":1,"size":12,"objective":"simclr","recipe":"fmnist-simclr-v1"}`); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestEndToEnd runs the three kinds of rows into one output directory and
// checks the table, the JSON, the merge and that every method saw the same
// subsets.
func TestEndToEnd(t *testing.T) {
	train, test := writeSplit(t, 160, 0), writeSplit(t, 48, 7)
	out := t.TempDir()
	common := []string{"--train", train, "--test", test, "--out", out, "--fractions", "0.25,1", "--seeds", "1,2",
		"--workers", "2", "--feature-batch", "32"}
	code, stdout, stderr := runArgs(append(slices.Clone(common), "--baseline", "random", "--passes", "30", "--linear-batch", "16")...)
	if code != 0 {
		t.Fatalf("random: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "pass 30/30") || !strings.Contains(stderr, "top-1") {
		t.Errorf("no progress lines on stderr: %s", stderr)
	}
	if !strings.Contains(stdout, "| random-init encoder + linear |") {
		t.Errorf("stdout lacks the table: %s", stdout)
	}
	code, _, stderr = runArgs(append(slices.Clone(common), "--baseline", "supervised", "--steps", "4", "--ft-batch", "8")...)
	if code != 0 {
		t.Fatalf("supervised: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "step 4/4") {
		t.Errorf("no step progress on stderr: %s", stderr)
	}
	ckpt := saveCheckpoint(t)
	code, _, stderr = runArgs(append(slices.Clone(common), "--encoder", ckpt, "--passes", "3", "--quiet")...)
	if code != 0 {
		t.Fatalf("encoder + linear: exit %d: %s", code, stderr)
	}
	code, _, stderr = runArgs(append(slices.Clone(common), "--encoder", ckpt, "--mode", "finetune", "--steps", "3",
		"--ft-batch", "8", "--method", "SimCLR + fine-tune", "--quiet")...)
	if code != 0 {
		t.Fatalf("finetune: exit %d: %s", code, stderr)
	}
	if stderr != "" {
		t.Errorf("--quiet printed %q", stderr)
	}

	res := readResultsT(t, out)
	var names []string
	for _, m := range res.Methods {
		names = append(names, m.Name)
	}
	want := []string{"random-init encoder + linear", "supervised from scratch", "simclr + linear", "SimCLR + fine-tune"}
	if !slices.Equal(names, want) {
		t.Fatalf("methods %q, want %q", names, want)
	}
	if res.TestRecords != 48 {
		t.Errorf("test_records %d", res.TestRecords)
	}
	hashes := map[string]string{} // fraction/seed → subset hash
	for _, m := range res.Methods {
		if len(m.Cells) != 2 || m.Cells[0].Fraction != 0.25 || m.Cells[1].Fraction != 1 {
			t.Fatalf("%s: cells %+v", m.Name, m.Cells)
		}
		if len(m.Cells[0].Runs) != 2 || len(m.Cells[1].Runs) != 1 {
			t.Errorf("%s: %d and %d runs, want 2 seeds at 25%% and 1 at 100%%", m.Name, len(m.Cells[0].Runs), len(m.Cells[1].Runs))
		}
		for _, c := range m.Cells {
			for _, r := range c.Runs {
				key := fmt.Sprintf("%g/%d", c.Fraction, r.Seed)
				sub, _ := sampler.BalancedSubset(labelsOf(160), c.Fraction, r.Seed)
				if r.Subset != len(sub) || r.SubsetFNV != subsetHash(sub) {
					t.Errorf("%s %s: subset %d %s, BalancedSubset gives %d %s", m.Name, key, r.Subset, r.SubsetFNV, len(sub), subsetHash(sub))
				}
				if h, ok := hashes[key]; ok && h != r.SubsetFNV {
					t.Errorf("%s %s: subset differs from another method's", m.Name, key)
				}
				hashes[key] = r.SubsetFNV
				if r.Top1 < 0 || r.Top1 > r.Top5 || r.Top5 > 100 {
					t.Errorf("%s %s: top-1 %v top-5 %v", m.Name, key, r.Top1, r.Top5)
				}
			}
			if c.Top1Mean < 0 || c.Top1Mean > 100 {
				t.Errorf("%s: top-1 mean %v", m.Name, c.Top1Mean)
			}
		}
	}
	// The synthetic classes are easy: the random-feature probe separates them.
	if acc := res.Methods[0].Cells[1].Top1Mean; acc < 60 {
		t.Errorf("random-init + linear on 4 easy classes: top-1 %.1f%%, want well above 25%%", acc)
	}
	table, err := os.ReadFile(filepath.Join(out, tableName))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"| method (Top-1 %) | 25% labels | 100% labels |", "| supervised from scratch |", "| SimCLR + fine-tune |", "| simclr + linear |", "±", "48 test images"} {
		if !strings.Contains(string(table), w) {
			t.Errorf("table.md lacks %q:\n%s", w, table)
		}
	}

	// A rerun of one fraction replaces that cell only.
	before := res.Methods[0].Cells[0]
	code, _, stderr = runArgs("--train", train, "--test", test, "--out", out, "--fractions", "1", "--seeds", "9",
		"--baseline", "random", "--passes", "2", "--quiet")
	if code != 0 {
		t.Fatalf("rerun: exit %d: %s", code, stderr)
	}
	res = readResultsT(t, out)
	m := res.Methods[0]
	if len(res.Methods) != 4 || len(m.Cells) != 2 || m.Cells[1].Runs[0].Seed != 9 || m.Cells[0].Top1Mean != before.Top1Mean {
		t.Errorf("merge: %d methods, cells %+v", len(res.Methods), m.Cells)
	}
}

func labelsOf(n int) []int32 {
	l := make([]int32, n)
	for i := range l {
		l[i] = int32(i % classes)
	}
	return l
}

// TestFinetuneDrawsTheBalancedSubset: the supervised pipeline's draws are
// exactly sampler.BalancedSubset(labels, fraction, seed), the subset the
// linear probe uses.
func TestFinetuneDrawsTheBalancedSubset(t *testing.T) {
	train, test := writeSplit(t, 120, 0), writeSplit(t, 16, 3)
	for _, c := range []struct {
		fraction float64
		seed     uint64
	}{{0.25, 1}, {0.25, 2}, {0.1, 7}} {
		seen := map[uint64]bool{}
		batchHook = func(f float64, seed uint64, ids []uint64) {
			for _, id := range ids {
				seen[id] = true
			}
		}
		code, _, stderr := runArgs("--baseline", "supervised", "--train", train, "--test", test, "--out", t.TempDir(),
			"--fractions", fmt.Sprint(c.fraction), "--seeds", fmt.Sprint(c.seed), "--steps", "25", "--ft-batch", "16", "--quiet")
		batchHook = nil
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		sub, _ := sampler.BalancedSubset(labelsOf(120), c.fraction, c.seed)
		var got []int64
		for id := range seen {
			got = append(got, int64(id))
		}
		slices.Sort(got)
		if !slices.Equal(got, sub) {
			t.Errorf("fraction %g seed %d: drew %v, BalancedSubset %v", c.fraction, c.seed, got, sub)
		}
	}
}

func TestTopK(t *testing.T) {
	logits := []float32{
		0.1, 0.9, 0.0, 0.0, 0.0, 0.0, // label 1: top-1
		0.5, 0.4, 0.3, 0.2, 0.1, 0.0, // label 4: rank 4 → top-5 only
		0.5, 0.4, 0.3, 0.2, 0.1, 0.0, // label 5: rank 5 → neither
		1, 1, 1, 1, 1, 1, // label 0: ties go to the lower class → top-1
		1, 1, 1, 1, 1, 1, // label 5: 5 classes tie above it → neither
		0, 0, 0, 0, 0, 0, // unlabelled: not counted
	}
	top1, top5 := topK(logits, []int32{1, 4, 5, 0, 5, -1}, 6)
	if top1 != 40 || top5 != 60 {
		t.Errorf("top-1 %v top-5 %v, want 40 and 60", top1, top5)
	}
}

func TestMeanStd(t *testing.T) {
	m, s := meanStd([]float64{72.5, 73.59})
	if math.Abs(m-73.045) > 1e-9 || math.Abs(s-0.7707464) > 1e-6 {
		t.Errorf("mean %v std %v", m, s)
	}
	if m, s := meanStd([]float64{80}); m != 80 || s != 0 {
		t.Errorf("one value: %v ± %v", m, s)
	}
}

func TestStandardiser(t *testing.T) {
	feats := []float32{1, 10, 3, 10, 5, 10, 100, 100}
	mean, inv := standardiser(feats, []int64{0, 1, 2}, 2)
	if mean[0] != 3 || mean[1] != 10 || inv[0] != 0.5 || inv[1] != 1 {
		t.Errorf("mean %v inv %v (want 3,10 and 1/2 (unbiased std 2), 1 for a constant dimension)", mean, inv)
	}
}

// TestConcurrentWriters: invocations sharing --out take turns, so no row is
// lost.
func TestConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := &Method{Name: fmt.Sprintf("m%d", i), Mode: "linear", Cells: []Cell{{Fraction: 1, Runs: []Run{{Seed: 1, Top1: float64(i)}}}}}
			m.Cells[0].summarize()
			_, errs[i] = writeResults(dir, m, 10)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := len(readResultsT(t, dir).Methods); n != 6 {
		t.Errorf("%d methods after 6 concurrent writers", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "results.lock")); err == nil {
		t.Error("lock file left behind")
	}
}

// A results.lock left behind by a killed lineval does not hold the next
// one up: the lock (filelock) died with its holder. (It was the file's
// existence, honoured for ten minutes: the next run waited a minute and
// failed.)
func TestStaleLockFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "results.lock"), nil, 0o644)
	m := &Method{Name: "m", Mode: "linear", Cells: []Cell{{Fraction: 1, Runs: []Run{{Seed: 1, Top1: 0.5}}}}}
	m.Cells[0].summarize()
	done := make(chan error, 1)
	go func() { _, err := writeResults(dir, m, 10); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a lock file without a holder blocked writeResults")
	}
}

// TestDeterministic: the numbers depend on the seeds only, not on the
// worker or thread count.
func TestDeterministic(t *testing.T) {
	train, test := writeSplit(t, 96, 0), writeSplit(t, 32, 5)
	ckpt := saveCheckpoint(t)
	for _, mode := range [][]string{
		{"--encoder", ckpt, "--mode", "linear", "--passes", "20", "--linear-batch", "8"},
		{"--encoder", ckpt, "--mode", "finetune", "--steps", "3", "--ft-batch", "8"},
	} {
		var runs [][]Run
		for _, par := range [][]string{{"--workers", "1", "--threads", "1"}, {"--workers", "3", "--threads", "2"}} {
			out := t.TempDir()
			args := append([]string{"--train", train, "--test", test, "--out", out, "--fractions", "0.5", "--seeds", "4", "--quiet"}, mode...)
			if code, _, stderr := runArgs(append(args, par...)...); code != 0 {
				t.Fatalf("%q: exit %d: %s", args, code, stderr)
			}
			runs = append(runs, readResultsT(t, out).Methods[0].Cells[0].Runs)
		}
		a, b := runs[0][0], runs[1][0]
		a.Seconds, b.Seconds = 0, 0
		if a != b {
			t.Errorf("%s: runs differ between 1 and 3 workers:\n%+v\n%+v", mode[3], a, b)
		}
	}
}

// TestFinetuneStartsFromCheckpoint: every fine-tuning run gets a fresh copy
// of the checkpoint's encoder.
func TestFinetuneStartsFromCheckpoint(t *testing.T) {
	ckpt := saveCheckpoint(t)
	s := &setup{o: &options{encoder: ckpt}}
	ref, err := trainer.NewSimCLR(trainer.Config{Model: "smallcnn", Channels: 1, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		enc, err := s.newEncoder()
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range enc.Params() {
			if !slices.Equal(p.W, ref.Encoder.Params()[i].W) {
				t.Fatalf("param %s differs from the checkpoint's", p.Name)
			}
			p.W[0] += 1 // a run trains its copy; the next must not see it
		}
	}
}

// TestMoreSeedsAddToACell: a second invocation with further subset seeds
// adds runs to the cell (each seed's run as if all had run together), and
// one that ran differently replaces the cell.
func TestMoreSeedsAddToACell(t *testing.T) {
	train, test := writeSplit(t, 96, 0), writeSplit(t, 32, 5)
	ckpt := saveCheckpoint(t)
	lin := func(out, seeds string, extra ...string) {
		t.Helper()
		args := append([]string{"--train", train, "--test", test, "--out", out, "--fractions", "0.5",
			"--seeds", seeds, "--quiet", "--encoder", ckpt, "--mode", "linear", "--linear-batch", "8"}, extra...)
		if code, _, stderr := runArgs(args...); code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, stderr)
		}
	}
	together, split := t.TempDir(), t.TempDir()
	lin(together, "1,2,3", "--passes", "20")
	lin(split, "3,1", "--passes", "20")
	lin(split, "2", "--passes", "20")
	want, got := readResultsT(t, together).Methods[0], readResultsT(t, split).Methods[0]
	if len(got.Cells) != 1 || len(got.Cells[0].Runs) != 3 {
		t.Fatalf("cells after seeds 3,1 then 2: %+v", got.Cells)
	}
	for i, r := range got.Cells[0].Runs {
		w := want.Cells[0].Runs[i]
		r.Seconds, w.Seconds = 0, 0
		if r != w {
			t.Errorf("run %d: %+v, run with all seeds together %+v", i, r, w)
		}
	}
	if g, w := got.Cells[0].Top1Mean, want.Cells[0].Top1Mean; g != w {
		t.Errorf("mean %v, together %v", g, w)
	}
	if s := fmt.Sprint(got.Settings["seeds"]); s != "[1 2 3]" {
		t.Errorf("settings seeds %s, want [1 2 3]", s)
	}
	lin(split, "4", "--passes", "10") // another recipe: the cell is replaced
	got = readResultsT(t, split).Methods[0]
	if n := len(got.Cells[0].Runs); n != 1 || got.Cells[0].Runs[0].Seed != 4 {
		t.Errorf("after a run with other settings the cell holds %+v, want seed 4 alone", got.Cells[0].Runs)
	}
}

// TestMergeFlag: --merge adds the runs of a results.json written elsewhere
// (here seed 3 run on its own) to --out's cells as if run together, and
// refuses other flags and files about another test split.
func TestMergeFlag(t *testing.T) {
	train, test := writeSplit(t, 96, 0), writeSplit(t, 32, 5)
	ckpt := saveCheckpoint(t)
	lin := func(out, seeds, test string) {
		t.Helper()
		args := []string{"--train", train, "--test", test, "--out", out, "--fractions", "0.5", "--seeds", seeds,
			"--quiet", "--encoder", ckpt, "--mode", "linear", "--linear-batch", "8", "--passes", "20"}
		if code, _, stderr := runArgs(args...); code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, stderr)
		}
	}
	together, here, there := t.TempDir(), t.TempDir(), t.TempDir()
	lin(together, "1,2,3", test)
	lin(here, "1,2", test)
	lin(there, "3", test)
	code, stdout, stderr := runArgs("--merge", filepath.Join(there, resultsName), "--out", here)
	if code != 0 {
		t.Fatalf("--merge: exit %d: %s", code, stderr)
	}
	want, got := readResultsT(t, together).Methods, readResultsT(t, here).Methods
	if len(got) != 1 || len(got[0].Cells) != 1 || len(got[0].Cells[0].Runs) != 3 {
		t.Fatalf("after --merge: %+v", got)
	}
	for i, r := range got[0].Cells[0].Runs {
		w := want[0].Cells[0].Runs[i]
		r.Seconds, w.Seconds = 0, 0
		if r != w {
			t.Errorf("run %d: %+v, run together %+v", i, r, w)
		}
	}
	table, err := os.ReadFile(filepath.Join(here, tableName))
	if err != nil || string(table) != stdout {
		t.Errorf("table.md (%v) differs from what --merge printed:\n%s\n%s", err, table, stdout)
	}

	other := t.TempDir()
	lin(other, "4", writeSplit(t, 20, 9)) // 20 test images, not 32
	if code, _, stderr := runArgs("--merge", filepath.Join(other, resultsName), "--out", here); code != 1 || !strings.Contains(stderr, "not one table") {
		t.Errorf("merging a file about another test split: exit %d: %s", code, stderr)
	}
	for _, args := range [][]string{
		{"--merge", filepath.Join(there, resultsName)},
		{"--merge", filepath.Join(there, resultsName), "--out", here, "--seeds", "1"},
		{"--merge", ",", "--out", here},
	} {
		if code, _, stderr := runArgs(args...); code != 2 {
			t.Errorf("%q: exit %d (want 2): %s", args, code, stderr)
		}
	}
	if code, _, stderr := runArgs("--merge", filepath.Join(t.TempDir(), "none.json"), "--out", here); code != 1 || !strings.Contains(stderr, "none.json") {
		t.Errorf("a missing file: exit %d: %s", code, stderr)
	}
}

// TestUsageText: --help exits 0 with the usage text; an unknown flag, a bad
// value (found by the flag package or later), and a stray argument exit 2
// with the usage text and one line.
func TestUsageText(t *testing.T) {
	clitest.Usage(t, "lineval", "usage: lineval", func(args []string, stdout, stderr *bytes.Buffer) int {
		return run(context.Background(), args, stdout, stderr)
	},
		[]string{"--bogus"}, []string{"--passes", "x"}, nil, []string{"extra"})
}

// TestRemoteSplits: splits on s3:// (the in-process S3 server), found
// through the --s3-* flags alone, give the same results as the local copies.
func TestRemoteSplits(t *testing.T) {
	endpoint := clitest.S3(t)
	train, test := writeSplit(t, 96, 0), writeSplit(t, 32, 5)
	clitest.Upload(t, train, "s3://data/le/train", endpoint)
	clitest.Upload(t, test, "s3://data/le/test", endpoint)
	flags := []string{"--fractions", "0.5", "--seeds", "4", "--quiet", "--baseline", "random", "--passes", "5", "--linear-batch", "8"}
	var runs []Run
	for _, where := range [][]string{
		{"--train", train, "--test", test},
		{"--train", "s3://data/le/train", "--test", "s3://data/le/test", "--s3-endpoint", endpoint, "--s3-path-style",
			"--cache-dir", t.TempDir(), "--access", "range"},
	} {
		out := t.TempDir()
		if code, _, stderr := runArgs(append(append([]string{"--out", out}, where...), flags...)...); code != 0 {
			t.Fatalf("%q: exit %d: %s", where, code, stderr)
		}
		r := readResultsT(t, out).Methods[0].Cells[0].Runs[0]
		r.Seconds = 0
		runs = append(runs, r)
	}
	if runs[0] != runs[1] {
		t.Errorf("remote splits gave %+v, local %+v", runs[1], runs[0])
	}
	if code, _, stderr := runArgs("--train", "s3://data/le/train", "--test", "s3://data/le/test", "--out", t.TempDir(),
		"--baseline", "random", "--access", "sideways"); code != 2 || !strings.Contains(stderr, "--access") {
		t.Errorf("--access sideways: exit %d: %s", code, stderr)
	}
}
