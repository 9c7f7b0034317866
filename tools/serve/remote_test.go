package main

import (
	"bufio"
	"context"
	"io"
	"testing"
	"time"

	"github.com/pairflow/pairflow/tools/internal/cli/clitest"
)

// TestServeS3: the command serves a split from S3 (an in-process S3 server
// on 127.0.0.1), byte-identical to the pipeline over the local copy.
func TestServeS3(t *testing.T) {
	ds, dir := makeDatasetDir(t, 48, 16, 16)
	endpoint := clitest.S3(t)
	clitest.Upload(t, dir, "s3://data/ds/train", endpoint)
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--dataset", "d=s3://data/ds/train", "--s3-endpoint", endpoint, "--s3-path-style",
			"--cache-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--workers", "2"}, io.Discard, pw)
		pw.Close()
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		close(addr)
	}()
	var a string
	select {
	case a = <-addr:
	case <-time.After(60 * time.Second):
		t.Fatal("server did not start")
	}
	if a == "" {
		cancel()
		t.Fatalf("server exited: %d", <-done)
	}
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("exit %d", code)
		}
	}()
	c := dial(t, a)
	cfg := baseConfig()
	cfg.WorldSize = 2
	fi, err := getInfo(context.Background(), c, desc(t, cfg, 1, nil))
	if err != nil {
		t.Fatal(err)
	}
	bs, err := doGet(context.Background(), t, c, fi.Endpoint[1].Ticket.Ticket, -1)
	if err != nil {
		t.Fatal(err)
	}
	sameData(t, "from S3", bs, local(t, ds, cfg, 1))
}
