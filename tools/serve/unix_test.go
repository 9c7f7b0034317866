package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUnixSocket: `serve --listen unix:///…` listens on a 0600 socket,
// advertises grpc+unix://, serves the same batches as the in-process
// pipeline to a Go client dialling unix://, and removes the socket when it
// stops; a stale socket is replaced, a live one or a non-socket refused.
func TestUnixSocket(t *testing.T) {
	ds, dir := makeDatasetDir(t, 24, 16, 16)
	sock := filepath.Join(t.TempDir(), "serve.sock")
	ctx, cancel := context.WithCancel(context.Background())
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--dataset", "d=" + dir, "--listen", UnixScheme + sock}, &stderr, &stderr)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no socket at %s:\n%s", sock, stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, %v; want 0600", fi.Mode(), err)
	}
	// A second server on the same path is refused.
	if code := run(context.Background(), []string{"--dataset", "d=" + dir, "--listen", UnixScheme + sock}, &bytes.Buffer{}, &bytes.Buffer{}); code != 1 {
		t.Errorf("second server on a live socket: exit %d, want 1", code)
	}

	c := dial(t, "unix://"+sock)
	cfg := baseConfig()
	info, err := getInfo(context.Background(), c, desc(t, cfg, 1, nil))
	if err != nil {
		t.Fatal(err)
	}
	locs := info.Endpoint[0].Location
	if len(locs) != 1 || locs[0].Uri != "grpc+unix://"+sock {
		t.Fatalf("locations %v, want grpc+unix://%s", locs, sock)
	}
	target, err := FlightTarget(locs[0].Uri)
	if err != nil || target != "unix://"+sock {
		t.Fatalf("FlightTarget(%s) = %q, %v", locs[0].Uri, target, err)
	}
	got, err := doGet(context.Background(), t, dial(t, target), info.Endpoint[0].Ticket.Ticket, -1)
	if err != nil {
		t.Fatal(err)
	}
	sameData(t, "unix socket", got, local(t, ds, cfg, 0))
	c.Close()

	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr.String())
	}
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("socket left after stop: %v", err)
	}

	// A stale socket (its server killed) is replaced.
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	l2, err := listenUnix(sock)
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	l2.Close()
	// Not a socket: refused; a relative path: a usage error.
	os.WriteFile(sock, nil, 0o600)
	if _, err := listenUnix(sock); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("regular file: %v", err)
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"--dataset", "d=" + dir, "--listen", "unix://rel.sock"}, &out, &out); code != 2 {
		t.Errorf("relative socket path: exit %d, want 2", code)
	}
}

// TestFlightTarget: Flight locations map to gRPC targets.
func TestFlightTarget(t *testing.T) {
	for in, want := range map[string]string{
		"grpc+unix:///run/p.sock": "unix:///run/p.sock",
		"grpc+tcp://h:1":          "h:1",
		"grpc://h:1":              "h:1",
		"grpc+tls://h:1":          "h:1",
	} {
		if got, err := FlightTarget(in); err != nil || got != want {
			t.Errorf("FlightTarget(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"http://h:1", "grpc+unix://rel", "grpc+tcp://"} {
		if got, err := FlightTarget(bad); err == nil {
			t.Errorf("FlightTarget(%s) = %q, want an error", bad, got)
		}
	}
}

// A Flight location from an endpoint, as a grpc-go dial target.
func ExampleFlightTarget() {
	for _, loc := range []string{"grpc+unix:///run/pairflow/serve.sock", "grpc+tcp://10.0.0.7:8815"} {
		target, _ := FlightTarget(loc)
		fmt.Println(target)
	}
	// Output:
	// unix:///run/pairflow/serve.sock
	// 10.0.0.7:8815
}
