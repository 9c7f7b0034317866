package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pairflow/pairflow/internal/s3test"
	"github.com/pairflow/pairflow/store"
)

// TestServeS3: the command serves a split from S3 (an in-process S3 server
// on 127.0.0.1), byte-identical to the pipeline over the local copy.
func TestServeS3(t *testing.T) {
	ds, dir := makeDatasetDir(t, 48, 16, 16)
	srv, err := s3test.NewServer("data")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	so := store.Options{Endpoint: srv.URL, PathStyle: true, AccessKey: s3test.AccessKey, SecretKey: s3test.SecretKey}
	st, err := store.Open("s3://data/ds/train", so)
	if err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Put(context.Background(), e.Name(), bytes.NewReader(b), int64(len(b)), false); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--dataset", "d=s3://data/ds/train", "--s3-endpoint", srv.URL, "--s3-path-style",
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
