//go:build unix

package main

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pairflow/pairflow/internal/cpu"
	"github.com/pairflow/pairflow/trainer"
)

// TestCrashResume is the fault-injection test: a tiny run (256 Fashion-MNIST
// images, batch 32, 2 epochs of 8 steps, a checkpoint every 3 steps, the 3
// newest kept) is SIGKILLed at 20 seeded points of its wall time — in the
// start-up, in training steps, in checkpoint and metrics writes — and then
// continued with --resume (or started again if it died before its first
// checkpoint) until it completes; every other trial is killed once more
// during its resume. Every trial must end with the final checkpoint of an
// uninterrupted run byte for byte (weights, optimiser state, step, pipeline
// state) and the same metrics.csv (timing columns aside), with no temporary
// files left. The binary is built once.
func TestCrashResume(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the command and runs it about 50 times")
	}
	if trainer.KernelTier() == cpu.Generic {
		t.Skip("purego: the default build runs this test; the plain-Go kernels would make it minutes long")
	}
	bin := filepath.Join(t.TempDir(), "pretrain")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data := smallData(t, 256, 8)
	args := func(out string, extra ...string) []string {
		return append([]string{"--out", out, "--train", filepath.Join(data, "train"), "--batch", "32", "--epochs", "2",
			"--checkpoint-every", "3", "--keep-checkpoints", "3", "--knn-every", "0", "--threads", "1", "--workers", "1",
			"--log-every", "0", "--no-plot"}, extra...)
	}
	// run runs the command, killing it after kill (0: never); it reports
	// whether it ran to the end. With first set, it notes when the first
	// checkpoint appeared.
	run := func(a []string, kill time.Duration, first *time.Duration) (bool, string) {
		t.Helper()
		cmd := exec.Command(bin, a...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var timer, poll <-chan time.Time
		if kill > 0 {
			timer = time.After(kill)
		}
		var ticker *time.Ticker
		if first != nil {
			ticker = time.NewTicker(5 * time.Millisecond)
			defer ticker.Stop()
			poll = ticker.C
		}
		for {
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("%q: %v\n%s", a, err, stderr.String())
				}
				return true, stderr.String()
			case <-timer:
				cmd.Process.Kill()
				<-done
				return false, stderr.String()
			case <-poll:
				if cs, _ := listCheckpoints(a[1]); len(cs) > 0 {
					*first, poll = time.Since(start), nil
				}
			}
		}
	}
	ref := t.TempDir()
	start := time.Now()
	var first time.Duration
	if ok, _ := run(args(ref), 0, &first); !ok {
		t.Fatal("reference run did not finish")
	}
	full := time.Since(start)
	if first == 0 {
		t.Fatal("the reference run's first checkpoint was not seen")
	}
	// Kill points: uniform from shortly before the first checkpoint (some
	// runs die before any) to the end.
	from := first * 4 / 5
	final := filepath.Join("checkpoints", "epoch-0002.safetensors")
	want, err := os.ReadFile(filepath.Join(ref, final))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("uninterrupted run: %v, the first checkpoint after %v", full.Round(time.Millisecond), first.Round(time.Millisecond))

	var resumes, fresh, midWrite, fallbacks int
	for seed := range 20 {
		rng := rand.New(rand.NewPCG(uint64(seed), 21))
		out := t.TempDir()
		at := func() time.Duration { return from + time.Duration(rng.Float64()*float64(full-from)) }
		kills := []time.Duration{at()}
		if seed%2 == 1 {
			kills = append(kills, at())
		}
		var log strings.Builder
		for attempt := 0; ; attempt++ {
			if attempt > len(kills)+1 {
				t.Fatalf("seed %d: no end after %d attempts:\n%s", seed, attempt, log.String())
			}
			a := args(out)
			cs, _ := listCheckpoints(out)
			if len(cs) > 0 {
				a = append(a, "--resume")
				resumes++
			} else if attempt > 0 {
				fresh++
			}
			var kill time.Duration
			if attempt < len(kills) {
				kill = kills[attempt]
			}
			ok, stderr := run(a, kill, nil)
			log.WriteString(stderr)
			if strings.Contains(stderr, "falling back") {
				fallbacks++
			}
			if ok {
				break
			}
			for _, dir := range []string{out, filepath.Join(out, "checkpoints")} {
				ents, _ := os.ReadDir(dir)
				for _, e := range ents {
					if strings.Contains(e.Name(), ".tmp-") {
						midWrite++
					}
				}
			}
		}
		got, err := os.ReadFile(filepath.Join(out, final))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("seed %d (kills at %v): final checkpoint differs from the uninterrupted run's (%v)\n%s", seed, kills, err, log.String())
		}
		sameMetrics(t, ref, out)
		filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
			if err == nil && strings.Contains(d.Name(), ".tmp-") {
				t.Errorf("seed %d: %s left behind", seed, p)
			}
			return nil
		})
	}
	t.Logf("20 crashed runs: %d resumes, %d fresh starts (killed before the first checkpoint), %d kills left an unfinished temporary file, %d fallbacks", resumes, fresh, midWrite, fallbacks)
}
