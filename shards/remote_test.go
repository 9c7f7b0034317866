package shards

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pairflow/pairflow/internal/s3test"
	"github.com/pairflow/pairflow/store"
)

// storeOpts: fast retries, and a stall timeout that a healthy request on a
// loaded machine cannot reach: tests that count requests must not see a
// slow answer retried as a stall.
func storeOpts(endpoint string) store.Options {
	return store.Options{Endpoint: endpoint, PathStyle: true, AccessKey: s3test.AccessKey, SecretKey: s3test.SecretKey,
		BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond, StallTimeout: 30 * time.Second}
}

// stallOpts is storeOpts for a proxy that stalls requests: each stall
// costs the 300 ms stall timeout.
func stallOpts(endpoint string) store.Options {
	o := storeOpts(endpoint)
	o.StallTimeout = 300 * time.Millisecond
	return o
}

// upload copies the files of a local split to url.
func upload(t testing.TB, dir, url string, o store.Options) {
	t.Helper()
	s, err := store.Open(url, o)
	if err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Put(context.Background(), e.Name(), bytes.NewReader(b), int64(len(b)), false); err != nil {
			t.Fatal(err)
		}
	}
}

// digest reads every record by index and by Iter and hashes what it read.
func digest(t testing.TB, d *Dataset) string {
	t.Helper()
	h := sha256.New()
	var r Record
	for i := range d.Len() {
		if err := d.Record(i, &r); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%s|%d|%x|", r.Key, r.Label, r.Payload)
	}
	it := d.Iter()
	for it.Next(&r) {
		fmt.Fprintf(h, "%s|%x|", r.Key, r.Payload)
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func remoteSplit(t *testing.T, n, perShard int) (srv *s3test.Server, dir string) {
	t.Helper()
	srv, err := s3test.NewServer("data")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	dir = t.TempDir()
	writeSplit(t, dir, RawS2, n, WriterOptions{MaxShardRecords: perShard})
	upload(t, dir, "s3://data/sets/train", storeOpts(srv.URL))
	return srv, dir
}

func openT(t testing.TB, src string, o OpenOptions) *Dataset {
	t.Helper()
	d, err := Open(src, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// TestRemoteMatchesLocal: over a store that throttles, truncates, flips
// bytes and stalls, whole-shard and range access read exactly what the local
// split holds; a second open with a warm cache downloads no shard and
// revalidates the manifest with one request.
func TestRemoteMatchesLocal(t *testing.T) {
	// The range subtest reads record by record, and its time goes on the
	// spoiled requests (a stall costs the 300 ms stall timeout, a SlowDown
	// minio-go's own 0-200 ms retry sleep): -short halves the records and
	// keeps the five shards, each shard's ranged open and the fault plan.
	n, perShard := 120, 25
	if testing.Short() {
		n, perShard = 60, 12
	}
	srv, dir := remoteSplit(t, n, perShard)
	local, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	want := digest(t, local)
	px, err := s3test.NewProxy(srv.URL, s3test.Faults{SlowDown: 7, Truncate: 5, Flip: 4, Stall: 11, StallTime: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	for _, access := range []Access{AccessWhole, AccessRange} {
		t.Run(fmt.Sprint(access), func(t *testing.T) {
			if access == AccessRange {
				// Opening a shard by range takes five reads, each of which a
				// flip spoils: one GET in four would leave almost no clean open.
				px.SetFaults(s3test.Faults{SlowDown: 7, Truncate: 5, Flip: 13, Stall: 11, StallTime: 5 * time.Second})
			}
			cache := t.TempDir()
			o := OpenOptions{Store: stallOpts(px.URL), CacheDir: cache, Access: access}
			d := openT(t, "s3://data/sets/train", o)
			if d.NumShards() != 5 || d.Len() != n {
				t.Fatalf("%d shards, %d records", d.NumShards(), d.Len())
			}
			if got := digest(t, d); got != want {
				t.Fatal("remote records differ from local ones")
			}
			if err := d.Verify(); err != nil {
				t.Fatal(err)
			}
			if d.Fetched() != 5 {
				t.Errorf("fetched %d shards, want 5", d.Fetched())
			}
			d.Close()
			px.SetFaults(s3test.Faults{})
			px.Counter.Reset()
			o.Store = storeOpts(px.URL) // no stalls now: requests are counted
			d2 := openT(t, "s3://data/sets/train", o)
			var r Record
			for i := range d2.Len() {
				if err := d2.Record(i, &r); err != nil {
					t.Fatal(err)
				}
			}
			if access == AccessWhole {
				if n := px.Counter.Gets(".pfs"); n != 0 || d2.Fetched() != 0 {
					t.Errorf("warm cache: %d shard GETs, %d fetched, want 0", n, d2.Fetched())
				}
				if n := px.Counter.Requests(""); n != 1 {
					t.Errorf("warm open made %d requests, want 1 (the conditional manifest GET)", n)
				}
			}
			px.SetFaults(s3test.Faults{SlowDown: 7, Truncate: 5, Flip: 4, Stall: 11, StallTime: 5 * time.Second})
		})
	}
	if px.Spoiled.Load() < 5 {
		t.Errorf("only %d requests spoiled", px.Spoiled.Load())
	}
}

// TestRemoteHTTPS reads a split over plain HTTP range GETs.
func TestRemoteHTTPS(t *testing.T) {
	srv, dir := remoteSplit(t, 40, 15)
	local, _ := Open(dir)
	defer local.Close()
	d := openT(t, srv.URL+"/data/sets/train", OpenOptions{Store: storeOpts(""), CacheDir: t.TempDir()})
	if digest(t, d) != digest(t, local) {
		t.Fatal("records differ")
	}
}

// TestRemoteEvictionAndPrefetch: a cache smaller than the split evicts, so
// a second pass downloads again; Prefetch fetches shards ahead of reads.
func TestRemoteEvictionAndPrefetch(t *testing.T) {
	srv, dir := remoteSplit(t, 100, 20)
	local, _ := Open(dir)
	defer local.Close()
	var total int64
	for _, si := range local.Manifest().Shards {
		total += si.Bytes
	}
	cache := t.TempDir()
	o := OpenOptions{Store: storeOpts(srv.URL), CacheDir: cache, CacheBytes: total / 2, PrefetchShards: 2}
	srv.Counter.Reset()
	d := openT(t, "s3://data/sets/train", o)
	d.Prefetch([]int{4, 3, 2, 1, 0})
	deadline := time.Now().Add(5 * time.Second)
	for srv.Counter.Gets(".pfs") < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)          // give a wrong third fetch time to show
	if n := srv.Counter.Gets(".pfs"); n != 2 { // the window before any read: order[0], order[1]
		t.Errorf("prefetch fetched %d shards before any read, want 2", n)
	}
	want := digest(t, local)
	if digest(t, d) != want {
		t.Fatal("records differ")
	}
	if u, _ := mustCache(t, cache).Usage(); u > total/2 {
		t.Errorf("cache holds %d bytes, limit %d", u, total/2)
	}
	d.Close()
	srv.Counter.Reset()
	d2 := openT(t, "s3://data/sets/train", o)
	if digest(t, d2) != want {
		t.Fatal("records differ")
	}
	if n := srv.Counter.Gets(".pfs"); n == 0 {
		t.Error("second pass over an evicting cache downloaded nothing")
	}
}

func mustCache(t *testing.T, dir string) *store.Cache {
	c, err := store.OpenCache(dir, -1)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRemoteBadInputs: each is a clear error, and nothing gets cached.
func TestRemoteBadInputs(t *testing.T) {
	srv, dir := remoteSplit(t, 30, 10)
	ctx := context.Background()
	o := OpenOptions{Store: storeOpts(srv.URL), CacheDir: t.TempDir()}
	check := func(name string, err error, sentinel error, words ...string) {
		t.Helper()
		if err == nil || (sentinel != nil && !errors.Is(err, sentinel)) {
			t.Errorf("%s: %v, want %v", name, err, sentinel)
			return
		}
		for _, w := range words {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", name, err, w)
			}
		}
	}
	_, err := Open("gs://data/x", o)
	check("unknown scheme", err, store.ErrLocation, "unknown scheme")
	_, err = Open("s3://nobucket/sets/train", o)
	check("missing bucket", err, ErrManifest, "s3://nobucket/sets/train")
	_, err = Open("s3://data/sets/none", o)
	check("missing dataset", err, ErrManifest, "index.json")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	_, err = Open("s3://data/sets/train", OpenOptions{Store: store.Options{Endpoint: srv.URL}, CacheDir: o.CacheDir})
	check("no credentials", err, store.ErrConfig, "credentials")

	// A manifest naming a shard that is not there.
	s, _ := store.Open("s3://data/gone/train", o.Store)
	upload(t, dir, "s3://data/gone/train", o.Store)
	s.Delete(ctx, "train-00001.pfs")
	_, err = Open("s3://data/gone/train", o)
	check("missing shard", err, ErrManifest, "train-00001.pfs")
	// The same over HTTP (no listing): the read of that shard fails.
	hd := openT(t, srv.URL+"/data/gone/train", OpenOptions{Store: storeOpts(""), CacheDir: o.CacheDir})
	var r Record
	err = hd.Record(15, &r)
	check("missing shard over HTTP", err, store.ErrNotFound, "train-00001.pfs")

	// A shard whose bytes do not match the manifest's SHA-256.
	upload(t, dir, "s3://data/bad/train", o.Store)
	b, _ := os.ReadFile(filepath.Join(dir, "train-00002.pfs"))
	b[len(b)/2] ^= 1
	bs, _ := store.Open("s3://data/bad/train", o.Store)
	bs.Put(ctx, "train-00002.pfs", bytes.NewReader(b), int64(len(b)), false)
	d := openT(t, "s3://data/bad/train", o)
	err = d.Record(25, &r)
	check("hash mismatch", err, ErrChecksum, "train-00002.pfs", "SHA-256")
	if err := d.Record(5, &r); err != nil {
		t.Errorf("a good shard of the same split: %v", err)
	}
	ents, _ := os.ReadDir(filepath.Join(o.CacheDir, "sha256"))
	want := map[string]bool{}
	for _, si := range d.Manifest().Shards {
		want[si.SHA256] = true
	}
	for _, e := range ents {
		if !want[e.Name()] {
			t.Errorf("cache holds %s, which no manifest names", e.Name())
		}
	}
	bad := d.Manifest().Shards[2].SHA256
	if _, err := os.Stat(filepath.Join(o.CacheDir, "sha256", bad)); err == nil {
		t.Error("the mismatching shard was cached")
	}
}

// $PAIRFLOW_CACHE_BYTES takes the size syntax --cache-bytes takes. (It
// was read with fmt.Sscan, which took "4GiB" for 4 bytes: the cache then
// kept one shard at a time.)
func TestRemoteCacheBytesEnv(t *testing.T) {
	srv, dir := remoteSplit(t, 10, 5)
	local, _ := Open(dir)
	defer local.Close()
	o := OpenOptions{Store: storeOpts(srv.URL), CacheDir: t.TempDir(), PrefetchShards: -1}
	t.Setenv(store.CacheBytesEnv, "4GiB")
	d := openT(t, "s3://data/sets/train", o)
	if digest(t, d) != digest(t, local) {
		t.Fatal("records differ")
	}
	d.Close()
	ents, _ := os.ReadDir(filepath.Join(o.CacheDir, "sha256"))
	if len(ents) != len(local.Manifest().Shards) {
		t.Fatalf("%s=4GiB: the cache keeps %d of %d shards", store.CacheBytesEnv, len(ents), len(local.Manifest().Shards))
	}
	for _, v := range []string{"lots", "0"} {
		t.Setenv(store.CacheBytesEnv, v)
		if _, err := Open("s3://data/sets/train", o); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), store.CacheBytesEnv) {
			t.Errorf("%s=%q: %v", store.CacheBytesEnv, v, err)
		}
	}
}

// TestRemoteTwoProcesses: two processes share one cache directory and read
// the whole split at once; both read it right, and each shard is downloaded
// once in all.
func TestRemoteTwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a second process")
	}
	srv, dir := remoteSplit(t, 200, 20)
	local, _ := Open(dir)
	want := digest(t, local)
	local.Close()
	cache := t.TempDir()
	srv.Counter.Reset()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRemoteHelperProcess$")
	cmd.Env = append(os.Environ(), "PAIRFLOW_REMOTE_HELPER="+srv.URL, "PAIRFLOW_REMOTE_CACHE="+cache)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := openT(t, "s3://data/sets/train", OpenOptions{Store: storeOpts(srv.URL), CacheDir: cache})
	got := digest(t, d)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v\n%s", err, out.String())
	}
	if got != want || !strings.Contains(out.String(), "digest "+want) {
		t.Fatalf("digests: this process ok=%v, helper said:\n%s", got == want, out.String())
	}
	for j := range 10 {
		if n := srv.Counter.Gets(ShardName("train", j)); n != 1 {
			t.Errorf("shard %d downloaded %d times, want 1", j, n)
		}
	}
}

func TestRemoteHelperProcess(t *testing.T) {
	url := os.Getenv("PAIRFLOW_REMOTE_HELPER")
	if url == "" {
		t.Skip("helper for TestRemoteTwoProcesses")
	}
	d := openT(t, "s3://data/sets/train", OpenOptions{Store: storeOpts(url), CacheDir: os.Getenv("PAIRFLOW_REMOTE_CACHE")})
	fmt.Println("digest", digest(t, d))
}

// TestRemoteCloseStopsPrefetch: Close during stalled downloads returns
// promptly and leaves no goroutine of ours running.
func TestRemoteCloseStopsPrefetch(t *testing.T) {
	srv, _ := remoteSplit(t, 60, 10)
	px, err := s3test.NewProxy(srv.URL, s3test.Faults{})
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	so := storeOpts(px.URL)
	so.StallTimeout = time.Minute // the downloads hang until Close cancels them
	d, err := Open("s3://data/sets/train", OpenOptions{Store: so, CacheDir: t.TempDir(), PrefetchShards: 3})
	if err != nil {
		t.Fatal(err)
	}
	px.SetFaults(s3test.Faults{Stall: 1, StallTime: time.Minute})
	d.Prefetch([]int{0, 1, 2, 3, 4, 5})
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("Close took %v", el)
	}
	var r Record
	if err := d.Record(0, &r); !errors.Is(err, ErrClosed) {
		t.Errorf("read after Close: %v", err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		st := string(buf[:runtime.Stack(buf, true)])
		leaked := strings.Contains(st, "shards.(*remote)") || strings.Contains(st, "pairflow/store.(*Store)")
		if !leaked {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines left after Close:\n%s", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRemoteRetryBudget: a store that always throttles gives, after the
// retry budget, an error naming the URL, the shard and the record.
func TestRemoteRetryBudget(t *testing.T) {
	srv, _ := remoteSplit(t, 30, 10)
	px, err := s3test.NewProxy(srv.URL, s3test.Faults{})
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	so := storeOpts(px.URL)
	so.MaxAttempts = 3
	d := openT(t, "s3://data/sets/train", OpenOptions{Store: so, CacheDir: t.TempDir(), Access: AccessRange})
	var r Record
	if err := d.Record(12, &r); err != nil { // opens shard 1 (header, index) while healthy
		t.Fatal(err)
	}
	px.SetFaults(s3test.Faults{SlowDown: 1})
	err = d.Record(13, &r)
	for _, w := range []string{"train-00001.pfs", "record 3", "s3://data/sets/train/train-00001.pfs", "3 attempts", "SlowDown"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v does not say %q", err, w)
		}
	}
	if !errors.Is(err, store.ErrRetries) {
		t.Errorf("error %v does not wrap store.ErrRetries", err)
	}
	// Open itself: the manifest's URL.
	_, err = Open("s3://data/sets/train", OpenOptions{Store: so, CacheDir: t.TempDir()})
	if !errors.Is(err, store.ErrRetries) || !strings.Contains(err.Error(), "s3://data/sets/train/index.json") {
		t.Errorf("throttled open: %v", err)
	}
}

// TestRemoteEvictedBeforeOpen: a cached shard removed (by another process's
// eviction) between the cache lookup and the open is fetched again.
func TestRemoteEvictedBeforeOpen(t *testing.T) {
	srv, dir := remoteSplit(t, 20, 10)
	local, _ := Open(dir)
	defer local.Close()
	removed := 0
	testHookCached = func(path string) {
		if removed < 1 {
			removed++
			os.Remove(path)
		}
	}
	defer func() { testHookCached = nil }()
	d := openT(t, "s3://data/sets/train", OpenOptions{Store: storeOpts(srv.URL), CacheDir: t.TempDir()})
	if digest(t, d) != digest(t, local) {
		t.Fatal("records differ")
	}
	if removed != 1 || d.Fetched() != 3 {
		t.Errorf("removed %d, fetched %d shards (want 1 and 3: one of the two twice)", removed, d.Fetched())
	}
}
