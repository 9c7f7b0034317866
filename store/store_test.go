package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pairflow/pairflow/internal/s3test"
)

// fastOpts: fast retries, and a stall timeout that a healthy request on a
// loaded machine cannot reach: tests that count requests must not see a
// slow answer retried as a stall.
func fastOpts(endpoint string) Options {
	return Options{Endpoint: endpoint, PathStyle: true, AccessKey: s3test.AccessKey, SecretKey: s3test.SecretKey,
		BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond, StallTimeout: 30 * time.Second}
}

// stallOpts is fastOpts for a proxy that stalls requests: each stall costs
// the 300 ms stall timeout.
func stallOpts(endpoint string) Options {
	o := fastOpts(endpoint)
	o.StallTimeout = 300 * time.Millisecond
	return o
}

func newServer(t *testing.T) *s3test.Server {
	t.Helper()
	srv, err := s3test.NewServer("data")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func openT(t *testing.T, loc string, o Options) *Store {
	t.Helper()
	s, err := Open(loc, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

func TestS3RoundTrip(t *testing.T) {
	srv := newServer(t)
	s := openT(t, "s3://data/ds/train", fastOpts(srv.URL))
	ctx := context.Background()
	b := payload(100_000)
	if err := s.Put(ctx, "a.bin", bytes.NewReader(b), int64(len(b)), true); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "a.bin", bytes.NewReader(b), int64(len(b)), true); !errors.Is(err, ErrExists) {
		t.Fatalf("second conditional put: %v, want ErrExists", err)
	}
	info, err := s.Stat(ctx, "a.bin")
	if err != nil || info.Size != int64(len(b)) || info.ETag == "" {
		t.Fatalf("stat: %+v %v", info, err)
	}
	p := make([]byte, 1000)
	if err := s.ReadAt(ctx, "a.bin", p, 5000); err != nil || !bytes.Equal(p, b[5000:6000]) {
		t.Fatalf("range read: %v", err)
	}
	var buf bytes.Buffer
	if n, err := s.Fetch(ctx, "a.bin", &buf, int64(len(b))); err != nil || n != int64(len(b)) || !bytes.Equal(buf.Bytes(), b) {
		t.Fatalf("fetch: %d %v", n, err)
	}
	got, inf, err := s.GetSmall(ctx, "a.bin", 1<<20, "")
	if err != nil || !bytes.Equal(got, b) {
		t.Fatal(err)
	}
	if _, _, err := s.GetSmall(ctx, "a.bin", 1<<20, inf.ETag); !errors.Is(err, ErrNotModified) {
		t.Fatalf("conditional get: %v, want ErrNotModified", err)
	}
	if _, _, err := s.GetSmall(ctx, "a.bin", 10, ""); !errors.Is(err, ErrIntegrity) {
		t.Fatalf("oversized small get: %v", err)
	}
	ls, err := s.List(ctx)
	if err != nil || len(ls) != 1 || ls[0].Name != "a.bin" || ls[0].Size != int64(len(b)) {
		t.Fatalf("list: %+v %v", ls, err)
	}
	if err := s.Delete(ctx, "a.bin"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "a.bin"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("stat after delete: %v", err)
	}
	if err := s.Delete(ctx, "a.bin"); err != nil {
		t.Fatalf("deleting a missing object: %v", err)
	}
}

func TestBadInputs(t *testing.T) {
	srv := newServer(t)
	ctx := context.Background()
	if _, err := Open("ftp://x/y", Options{}); !errors.Is(err, ErrLocation) || !strings.Contains(err.Error(), "unknown scheme") {
		t.Errorf("unknown scheme: %v", err)
	}
	if _, err := Open("s3://A_B/x", Options{}); !errors.Is(err, ErrLocation) {
		t.Errorf("bad bucket: %v", err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	if _, err := Open("s3://data/x", Options{Endpoint: srv.URL}); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "no S3 credentials") {
		t.Errorf("no credentials: %v", err)
	}
	cf := filepath.Join(t.TempDir(), "credentials")
	os.WriteFile(cf, []byte("[default]\naws_access_key_id = k\naws_secret_access_key = s\n"), 0o600)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", cf)
	if _, err := Open("s3://data/x", Options{Endpoint: srv.URL}); err != nil {
		t.Errorf("credentials file: %v", err)
	}
	s := openT(t, "s3://missing-bucket/x", fastOpts(srv.URL))
	_, err := s.Stat(ctx, "index.json")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "s3://missing-bucket/x/index.json") {
		t.Errorf("missing bucket: %v", err)
	}
	if _, err := Open("s3://data/x", Options{Endpoint: "ftp://h/p", AccessKey: "a", SecretKey: "b"}); !errors.Is(err, ErrConfig) {
		t.Errorf("bad endpoint: %v", err)
	}
	h := openT(t, srv.URL+"/data/x", fastOpts(""))
	if err := h.Put(ctx, "a", bytes.NewReader(nil), 0, false); !errors.Is(err, ErrUnsupported) {
		t.Errorf("HTTP put: %v", err)
	}
	if _, err := s.Stat(ctx, "../evil"); !errors.Is(err, ErrLocation) {
		t.Errorf("bad object name: %v", err)
	}
}

// TestFaults reads through a proxy that spoils requests in every way it
// can; the bytes must come back right, and a hopeless store must give a
// clear error after the retry budget.
func TestFaults(t *testing.T) {
	srv := newServer(t)
	ctx := context.Background()
	b := payload(300_000)
	direct := openT(t, "s3://data/f", fastOpts(srv.URL))
	if err := direct.Put(ctx, "obj", bytes.NewReader(b), int64(len(b)), false); err != nil {
		t.Fatal(err)
	}
	for _, f := range []s3test.Faults{
		{SlowDown: 2}, {Error500: 3}, {Truncate: 2}, {Reset: 2}, {Stall: 3, StallTime: 5 * time.Second},
	} {
		px, err := s3test.NewProxy(srv.URL, f)
		if err != nil {
			t.Fatal(err)
		}
		s := openT(t, "s3://data/f", stallOpts(px.URL))
		for range 4 {
			var buf bytes.Buffer
			if _, err := s.Fetch(ctx, "obj", &buf, int64(len(b))); err != nil || !bytes.Equal(buf.Bytes(), b) {
				t.Fatalf("%+v: fetch: %v", f, err)
			}
			p := make([]byte, 4096)
			if err := s.ReadAt(ctx, "obj", p, 1234); err != nil || !bytes.Equal(p, b[1234:1234+4096]) {
				t.Fatalf("%+v: read: %v", f, err)
			}
		}
		// Go's HTTP client itself retries an idempotent request on a reset
		// reused connection, so a reset need not reach our retry loop.
		if px.Spoiled.Load() == 0 || (s.Stats().Retries == 0 && f.Reset == 0) {
			t.Errorf("%+v: no fault injected (%d) or no retry (%+v)", f, px.Spoiled.Load(), s.Stats())
		}
		px.Close()
	}
	px, _ := s3test.NewProxy(srv.URL, s3test.Faults{SlowDown: 1})
	defer px.Close()
	o := fastOpts(px.URL)
	o.MaxAttempts = 3
	s := openT(t, "s3://data/f", o)
	_, _, err := s.GetSmall(ctx, "obj", 1<<20, "")
	var se *Error
	if !errors.Is(err, ErrRetries) || !errors.As(err, &se) || se.Attempts != 3 || !strings.Contains(err.Error(), "s3://data/f/obj") || !strings.Contains(err.Error(), "SlowDown") {
		t.Errorf("always throttled: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Stat(cctx, "obj"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestHTTP(t *testing.T) {
	srv := newServer(t)
	ctx := context.Background()
	b := payload(50_000)
	direct := openT(t, "s3://data/h", fastOpts(srv.URL))
	direct.Put(ctx, "obj", bytes.NewReader(b), int64(len(b)), false)
	px, _ := s3test.NewProxy(srv.URL, s3test.Faults{SlowDown: 3, Truncate: 4})
	defer px.Close()
	s := openT(t, px.URL+"/data/h", fastOpts(""))
	for range 3 {
		p := make([]byte, 777)
		if err := s.ReadAt(ctx, "obj", p, 49_000); err != nil || !bytes.Equal(p, b[49_000:49_777]) {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := s.Fetch(ctx, "obj", &buf, int64(len(b))); err != nil || !bytes.Equal(buf.Bytes(), b) {
			t.Fatal(err)
		}
	}
	_, info, err := s.GetSmall(ctx, "obj", 1<<20, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.GetSmall(ctx, "obj", 1<<20, info.ETag); !errors.Is(err, ErrNotModified) {
		t.Errorf("conditional get over HTTP: %v", err)
	}
	if _, err := s.Stat(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
}

func TestLocal(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{})
	ctx := context.Background()
	b := payload(1000)
	if err := s.Put(ctx, "x", bytes.NewReader(b), 1000, true); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "x", bytes.NewReader(b), 1000, true); !errors.Is(err, ErrExists) {
		t.Fatal(err)
	}
	// Objects are readable by others, as the files a local shards.Writer
	// writes are, and no temporary file is left after either put.
	if st, err := os.Stat(filepath.Join(dir, "x")); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("object mode %v (%v), want 0644", st.Mode().Perm(), err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("directory holds %d entries after two puts of one object", len(ents))
	}
	p := make([]byte, 10)
	if err := s.ReadAt(ctx, "x", p, 990); err != nil || !bytes.Equal(p, b[990:]) {
		t.Fatal(err)
	}
	if err := s.ReadAt(ctx, "x", p, 995); err == nil {
		t.Fatal("read past the end succeeded")
	}
	ls, _ := s.List(ctx)
	if len(ls) != 1 {
		t.Fatalf("list %+v", ls)
	}
}

func TestCache(t *testing.T) {
	srv := newServer(t)
	ctx := context.Background()
	s := openT(t, "s3://data/c", fastOpts(srv.URL))
	objs := map[string][]byte{}
	for i, n := range []int{40_000, 50_000, 60_000} {
		b := payload(n)
		b[0] = byte(i)
		name := string(rune('a' + i))
		objs[name] = b
		s.Put(ctx, name, bytes.NewReader(b), int64(n), false)
	}
	c, err := OpenCache(t.TempDir(), 120_000)
	if err != nil {
		t.Fatal(err)
	}
	get := func(name string) (string, bool) {
		t.Helper()
		b := objs[name]
		p, fetched, err := c.Get(ctx, s, name, int64(len(b)), sum(b))
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(p); !bytes.Equal(got, b) {
			t.Fatalf("%s: cached bytes differ", name)
		}
		return p, fetched
	}
	srv.Counter.Reset()
	if _, f := get("a"); !f {
		t.Fatal("first get was not a fetch")
	}
	if _, f := get("a"); f {
		t.Fatal("second get fetched")
	}
	if n := srv.Counter.Gets("/c/a"); n != 1 {
		t.Fatalf("%d GETs of a, want 1", n)
	}
	time.Sleep(10 * time.Millisecond) // distinct mtimes for the LRU order
	get("b")
	time.Sleep(10 * time.Millisecond)
	get("a") // a is now more recent than b
	time.Sleep(10 * time.Millisecond)
	get("c") // 150 000 > 120 000: evicts down to ≤ 108 000, oldest first: b
	if _, err := os.Stat(c.Path(sum(objs["b"]))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("b was not evicted: %v", err)
	}
	if _, err := os.Stat(c.Path(sum(objs["c"]))); err != nil {
		t.Errorf("c (just fetched) is gone: %v", err)
	}
	if u, _ := c.Usage(); u > 120_000 {
		t.Errorf("usage %d over the limit", u)
	}
	srv.Counter.Reset()
	get("b")
	if n := srv.Counter.Gets("/c/b"); n != 1 {
		t.Errorf("evicted b: %d GETs, want 1", n)
	}

	// A wrong SHA-256: fetched three times, an error, nothing cached.
	srv.Counter.Reset()
	bad := strings.Repeat("0", 64)
	_, _, err = c.Get(ctx, s, "a", int64(len(objs["a"])), bad)
	if !errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), "s3://data/c/a") {
		t.Errorf("hash mismatch: %v", err)
	}
	if n := srv.Counter.Gets("/c/a"); n != integrityAttempts {
		t.Errorf("%d GETs for a mismatching object, want %d", n, integrityAttempts)
	}
	if _, err := os.Stat(c.Path(bad)); !errors.Is(err, os.ErrNotExist) {
		t.Error("a mismatching object was cached")
	}
	// A wrong size and a missing object: errors, nothing cached.
	if _, _, err := c.Get(ctx, s, "a", 5, sum(objs["a"][:5])); !errors.Is(err, ErrIntegrity) {
		t.Errorf("size mismatch: %v", err)
	}
	if _, _, err := c.Get(ctx, s, "zz", 5, bad); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing object: %v", err)
	}
	ents, _ := os.ReadDir(filepath.Join(c.Dir(), "tmp"))
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".part") {
			t.Errorf("leftover download %s", e.Name())
		}
	}

	// A flipped byte in transit is caught by the hash and fetched again.
	px, _ := s3test.NewProxy(srv.URL, s3test.Faults{Flip: 2})
	defer px.Close()
	c2, _ := OpenCache(t.TempDir(), -1)
	sp := openT(t, "s3://data/c", fastOpts(px.URL))
	for _, name := range []string{"a", "b", "c"} {
		b := objs[name]
		p, _, err := c2.Get(ctx, sp, name, int64(len(b)), sum(b))
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(p); !bytes.Equal(got, b) {
			t.Fatal("corrupt bytes cached")
		}
	}
	if px.Spoiled.Load() == 0 {
		t.Error("no byte flipped")
	}

	if err := c.PutManifest("s3://data/c/index.json", "e1", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if b, e, ok := c.Manifest("s3://data/c/index.json"); !ok || e != "e1" || string(b) != "{}" {
		t.Errorf("manifest entry: %q %q %v", b, e, ok)
	}
	if _, _, ok := c.Manifest("s3://data/other/index.json"); ok {
		t.Error("manifest entry for another URL")
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := leakedGoroutines(); leaked != "" {
			os.Stderr.WriteString("leaked goroutines:\n" + leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// leakedGoroutines waits up to 2 s for goroutines running this package's
// code (other than the caller) to end, and returns their stacks if some
// remain. Idle HTTP connections are not ours.
func leakedGoroutines() string {
	deadline := time.Now().Add(2 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		var ours []string
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if strings.Contains(g, "pairflow/store.") && !strings.Contains(g, "store.leakedGoroutines") {
				ours = append(ours, g)
			}
		}
		if len(ours) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(ours, "\n\n")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHTTPQueryKept: a token in the location's query string goes with every
// object request (presigned-style access) and never into messages.
func TestHTTPQueryKept(t *testing.T) {
	b := payload(3000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("sig") != "s3cr3t" {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		if r.URL.Path != "/ds/train/obj" {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, "obj", time.Time{}, bytes.NewReader(b))
	}))
	defer srv.Close()
	ctx := context.Background()
	s := openT(t, srv.URL+"/ds/train?sig=s3cr3t", fastOpts(""))
	p := make([]byte, 100)
	if err := s.ReadAt(ctx, "obj", p, 2900); err != nil || !bytes.Equal(p, b[2900:]) {
		t.Fatalf("range read with token: %v", err)
	}
	bad := openT(t, srv.URL+"/ds/train?sig=wrong", fastOpts(""))
	err := bad.ReadAt(ctx, "obj", p, 0)
	if !errors.Is(err, ErrDenied) || strings.Contains(err.Error(), "wrong") {
		t.Errorf("bad token: %v (want ErrDenied, no token in the message)", err)
	}
	if _, err := s.Stat(ctx, "missing"); !errors.Is(err, ErrNotFound) || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("missing object: %v", err)
	}
}

// TestConditionalPutResponseLost: a conditional put that lands but whose
// response is lost is retried, finds the object there, and succeeds once it
// sees the object is its own; a different object there is still ErrExists.
func TestConditionalPutResponseLost(t *testing.T) {
	srv := newServer(t)
	px, err := s3test.NewProxy(srv.URL, s3test.Faults{Drop: 2, Method: "PUT"})
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	s := openT(t, "s3://data/lost", fastOpts(px.URL))
	ctx := context.Background()
	b := payload(5000)
	if err := s.Put(ctx, "first", bytes.NewReader(b), int64(len(b)), true); err != nil { // PUT 1 passes
		t.Fatal(err)
	}
	if err := s.Put(ctx, "index.json", bytes.NewReader(b), int64(len(b)), true); err != nil { // PUT 2 lands, response lost
		t.Fatalf("conditional put whose response was lost: %v", err)
	}
	if px.Spoiled.Load() != 1 {
		t.Fatalf("%d responses dropped, want 1", px.Spoiled.Load())
	}
	other := payload(5000)
	other[0] ^= 1
	px.SetFaults(s3test.Faults{Drop: 4, Method: "PUT"}) // PUT 4's response (a 412) is lost; the retry sees someone else's object
	if err := s.Put(ctx, "first", bytes.NewReader(other), int64(len(other)), true); !errors.Is(err, ErrExists) {
		t.Fatalf("conditional put over another object: %v, want ErrExists", err)
	}
	if px.Spoiled.Load() != 2 {
		t.Fatalf("%d responses dropped, want 2", px.Spoiled.Load())
	}
}

// A host has one cap: a later Store that names none shares it, one that
// names another is an error (it used to be ignored without a word).
func TestPerHostOneCap(t *testing.T) {
	open := func(url string, n int) (*Store, error) {
		return Open(url, Options{PerHost: n, Anonymous: true})
	}
	a, err := open("https://perhost.test/a", 3)
	if err != nil {
		t.Fatal(err)
	}
	b, err := open("https://perhost.test/b", 0)
	if err != nil || b.sem != a.sem || cap(b.sem) != 3 || b.o.PerHost != 3 {
		t.Fatalf("a Store naming no cap: %v; shares the host's: %v", err, err == nil && b.sem == a.sem)
	}
	if c, err := open("https://perhost.test/c", 3); err != nil || c.sem != a.sem {
		t.Fatalf("the same cap again: %v", err)
	}
	if _, err := open("https://perhost.test/d", 8); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "at 3") {
		t.Fatalf("another cap for the host: %v, want ErrConfig naming the cap in force", err)
	}
	if d, err := open("https://other-perhost.test/d", 0); err != nil || cap(d.sem) != 16 {
		t.Fatalf("a new host without a cap: %v", err)
	}
}

// TestListStall: a LIST that gets no response is abandoned after the stall
// timeout and retried, and cancelling the context ends it at once. (List
// went through minio-go's Core.ListObjectsV2, which sends its request under
// context.Background(): a stalled listing held Open for as long as the
// server did, 5 s per stall in shards' TestRemoteMatchesLocal.)
func TestListStall(t *testing.T) {
	srv := newServer(t)
	ctx := context.Background()
	direct := openT(t, "s3://data/l", fastOpts(srv.URL))
	if err := direct.Put(ctx, "obj", bytes.NewReader([]byte("x")), 1, false); err != nil {
		t.Fatal(err)
	}
	px, err := s3test.NewProxy(srv.URL, s3test.Faults{Stall: 2, StallTime: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	s := openT(t, "s3://data/l", stallOpts(px.URL))
	start := time.Now()
	for range 3 { // requests 1..4 or so: every second one stalls
		ls, err := s.List(ctx)
		if err != nil || len(ls) != 1 || ls[0].Name != "obj" {
			t.Fatalf("list through stalls: %+v %v", ls, err)
		}
	}
	if s.Stats().Retries == 0 {
		t.Errorf("no stall was retried (%+v, %d spoiled)", s.Stats(), px.Spoiled.Load())
	}
	// Each stall costs the 300 ms stall timeout; a minute means the
	// request was never cancelled.
	if el := time.Since(start); el > 30*time.Second {
		t.Errorf("three listings through stalls took %v", el)
	}
	px.SetFaults(s3test.Faults{Stall: 1, StallTime: time.Minute})
	s = openT(t, "s3://data/l", fastOpts(px.URL)) // the stall timeout is 30 s: only cancelling ends it
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(100*time.Millisecond, cancel)
	start = time.Now()
	if _, err := s.List(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled list: %v, want context.Canceled", err)
	}
	if el := time.Since(start); el > 30*time.Second {
		t.Errorf("cancelled list returned after %v", el)
	}
}

// TestPutOverS3Limit: an object over S3's single-PUT limit is refused,
// naming the object, before any request is sent.
func TestPutOverS3Limit(t *testing.T) {
	srv := newServer(t)
	s := openT(t, "s3://data/big", fastOpts(srv.URL))
	srv.Counter.Reset()
	err := s.Put(context.Background(), "huge.pfs", strings.NewReader(""), MaxS3PutBytes+1, false)
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "s3://data/big/huge.pfs") || !strings.Contains(err.Error(), "5 GiB") {
		t.Fatalf("Put over the limit: %v", err)
	}
	t.Log(err)
	if n := srv.Counter.Requests("PUT"); n != 0 {
		t.Fatalf("%d PUT requests sent", n)
	}
}
