// Command s3server runs the test S3 server (gofakes3, in memory) as its own
// process on 127.0.0.1, for benchmarks where the server's CPU must count
// against the machine as it would on a real node. It is not a storage
// service: everything is lost when it exits.
//
//	s3server [--addr 127.0.0.1:0] [--bucket data] [--preload DIR=PREFIX]...
//
// It uploads the files of each DIR (not recursive) under PREFIX in the
// bucket, prints "s3server: listening on http://ADDR" on stdout, and serves
// until stdin closes or it is killed. Credentials are not checked; use
// s3test.AccessKey and s3test.SecretKey.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/pairflow/pairflow/internal/s3test"
	"github.com/pairflow/pairflow/store"
)

type preloads []string

func (p *preloads) String() string     { return strings.Join(*p, ",") }
func (p *preloads) Set(s string) error { *p = append(*p, s); return nil }

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback)")
	bucket := flag.String("bucket", "data", "bucket to create")
	var pre preloads
	flag.Var(&pre, "preload", "DIR=PREFIX: upload DIR's files under PREFIX (repeatable)")
	flag.Parse()
	if err := run(*addr, *bucket, pre); err != nil {
		fmt.Fprintln(os.Stderr, "s3server:", err)
		os.Exit(1)
	}
}

func run(addr, bucket string, pre []string) error {
	h, err := s3test.Handler(bucket)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	url := "http://" + ln.Addr().String()
	for _, p := range pre {
		dir, prefix, ok := strings.Cut(p, "=")
		if !ok {
			return fmt.Errorf("--preload %q: want DIR=PREFIX", p)
		}
		if err := preload(url, bucket, dir, prefix); err != nil {
			return err
		}
	}
	fmt.Printf("s3server: listening on %s\n", url)
	go func() { io.Copy(io.Discard, os.Stdin); errc <- nil }()
	err = <-errc
	srv.Shutdown(context.Background())
	return err
}

func preload(url, bucket, dir, prefix string) error {
	st, err := store.Open("s3://"+bucket+"/"+strings.Trim(prefix, "/"), store.Options{Endpoint: url, PathStyle: true,
		AccessKey: s3test.AccessKey, SecretKey: s3test.SecretKey})
	if err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		if err := st.Put(context.Background(), e.Name(), bytes.NewReader(b), int64(len(b)), false); err != nil {
			return err
		}
	}
	return nil
}
