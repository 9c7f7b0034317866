package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pairflow/pairflow/pipeline"
)

// TestMain runs the command itself when the test binary is started as a
// child server (TestKillResume).
func TestMain(m *testing.M) {
	if args := os.Getenv("PAIRFLOW_SERVE_CHILD_ARGS"); args != "" {
		os.Exit(run(context.Background(), strings.Split(args, "\x1f"), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

var listenRE = regexp.MustCompile(`msg="flight listening" addr=(\S+)`)

// startChild starts the command as a separate process and returns it and
// its Flight address.
func startChild(t *testing.T, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PAIRFLOW_SERVE_CHILD_ARGS="+strings.Join(args, "\x1f"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(stderr)
	addr := make(chan string, 1)
	go func() {
		found := false
		for sc.Scan() {
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil && !found {
				found = true
				addr <- m[1]
			}
		}
		close(addr)
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatal("child server exited before listening")
		}
		return cmd, a
	case <-time.After(60 * time.Second):
		t.Fatal("child server did not start within 60 s")
	}
	return nil, ""
}

// TestKillResume: a server process SIGKILLed mid-stream; the client notices
// the cut stream; another process (same --ticket-key) resumes it from the
// next batch, and the whole is byte-identical to the in-process pipeline.
func TestKillResume(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	ds, dir := makeDatasetDir(t, 96, 16, 16)
	key := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(key, []byte("pool-key-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--listen", "127.0.0.1:0", "--dataset", "d=" + dir, "--ticket-key", key, "--workers", "2", "--prefetch", "1"}
	cfg := baseConfig()
	cfg.Epochs = 20
	// 64×64 float32 views: 786 KB batches, 190 MB in all, more than gRPC's
	// flow-control windows (64 MiB here) hold, so the server is mid-stream
	// when killed.
	cfg.Recipe = pipeline.Recipes{pipeline.EvalRecipe(64, 3)}
	want := local(t, ds, cfg, 0)
	perEpoch := int64(len(want) / 20)

	a, addrA := startChild(t, args...)
	ca := dial(t, addrA)
	fi, err := getInfo(context.Background(), ca, desc(t, cfg, 1, nil))
	if err != nil {
		t.Fatal(err)
	}
	// Read k batches, then kill the server while the stream is open.
	const k = 7
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := ca.DoGet(ctx, fiTicket(fi, 0))
	if err != nil {
		t.Fatal(err)
	}
	r, err := newReader(s)
	if err != nil {
		t.Fatal(err)
	}
	var head []got
	for range k {
		rec, err := r.Read()
		if err != nil {
			t.Fatal(err)
		}
		head = append(head, toGot(t, rec, r.LatestAppMetadata()))
	}
	if err := a.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	a.Wait()
	complete := false
	for {
		rec, err := r.Read()
		if err != nil {
			break
		}
		g := toGot(t, rec, r.LatestAppMetadata())
		if _, ok := g.meta[MetaStreamBatches]; ok {
			complete = true
		}
		head = append(head, g)
	}
	r.Release()
	if complete {
		t.Fatal("the stream of the killed server ended with a summary")
	}
	t.Logf("read %d batches before the cut (of %d)", len(head), len(want))

	_, addrB := startChild(t, args...)
	cb := dial(t, addrB)
	next := Position{Epoch: int64(len(head)) / perEpoch, Batch: int64(len(head)) % perEpoch}
	fi2, err := getInfo(context.Background(), cb, desc(t, cfg, 1, &next))
	if err != nil {
		t.Fatal(err)
	}
	tail, err := doGet(context.Background(), t, cb, fi2.Endpoint[0].Ticket.Ticket, -1)
	if err != nil {
		t.Fatal(err)
	}
	sameData(t, "killed and resumed", append(head, tail...), want)
	checkMeta(t, "resumed", tail, next, perEpoch, 1)
	// The original ticket, issued by the killed process, is served by the new one.
	again, err := doGet(context.Background(), t, cb, fi.Endpoint[0].Ticket.Ticket, -1)
	if err != nil {
		t.Fatal(err)
	}
	sameData(t, "old ticket on the new server", again, want)
}
