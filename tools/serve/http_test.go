package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/pairflow/pairflow/arrowpair"
)

func startHTTP(t *testing.T, ts *testServer) *httptest.Server {
	t.Helper()
	hs := httptest.NewServer(ts.srv.HTTPHandler())
	t.Cleanup(hs.Close)
	return hs
}

func httpDo(t *testing.T, method, url, token string, body []byte) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// readHTTPStream reads an IPC stream with arrowpair.ReadIPC.
func readHTTPStream(t *testing.T, r io.Reader) []got {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ir, err := arrowpair.ReadIPC(r, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer ir.Release()
	var out []got
	for rec, err := range ir.All() {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, toGot(t, rec, nil))
	}
	if !ir.Complete() {
		t.Fatal("the HTTP stream did not verify complete")
	}
	return out
}

// TestHTTP: the HTTP stream equals the Flight stream and the in-process
// pipeline, by ticket and by endpoint; auth and bad requests are refused.
func TestHTTP(t *testing.T) {
	ds := makeDataset(t, 64, 16, 16)
	ts := startServer(t, ds, func(o *Options) { o.Token = "tok" })
	hs := startHTTP(t, ts)
	cfg := baseConfig()
	cfg.WorldSize = 2
	d := desc(t, cfg, 1, nil)

	resp := httpDo(t, "POST", hs.URL+"/v1/info", "tok", d)
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("info: %s: %s", resp.Status, b)
	}
	var info HTTPInfo
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		t.Fatal(err)
	}
	if info.Ranks != 2 || len(info.Endpoints) != 2 || info.SchemaVersion == "" {
		t.Fatalf("info %+v", info)
	}
	want := local(t, ds, cfg, 1)
	resp = httpDo(t, "GET", hs.URL+"/v1/stream?ticket="+info.Endpoints[1].Ticket, "tok", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != IPCContentType {
		t.Fatalf("stream: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	bs := readHTTPStream(t, resp.Body)
	sameData(t, "GET ticket", bs, want)
	for i := range bs {
		bs[i].app = bs[i].meta
	}
	checkMeta(t, "http", bs, Position{}, int64(len(want)/2), 1)

	resp = httpDo(t, "POST", hs.URL+"/v1/stream?endpoint=1", "tok", d)
	sameData(t, "POST endpoint", readHTTPStream(t, resp.Body), want)

	tkt, _ := base64.RawURLEncoding.DecodeString(info.Endpoints[1].Ticket)
	tkt[len(tkt)-1] ^= 1
	for name, tc := range map[string]struct {
		method, url, token string
		body               []byte
		code               int
	}{
		"no token":     {"GET", "/v1/stream?ticket=" + info.Endpoints[1].Ticket, "", nil, 401},
		"wrong token":  {"POST", "/v1/info", "tok2", d, 401},
		"bad ticket":   {"GET", "/v1/stream?ticket=" + base64.RawURLEncoding.EncodeToString(tkt), "tok", nil, 400},
		"not base64":   {"GET", "/v1/stream?ticket=%%%", "tok", nil, 400},
		"no endpoint":  {"POST", "/v1/stream", "tok", d, 400},
		"endpoint 2":   {"POST", "/v1/stream?endpoint=2", "tok", d, 400},
		"bad desc":     {"POST", "/v1/info", "tok", []byte(`{"version":1}`), 400},
		"huge desc":    {"POST", "/v1/info", "tok", make([]byte, MaxDescriptorBytes+10), 400},
		"unknown data": {"POST", "/v1/info", "tok", bytes.Replace(d, []byte(`"dataset":"d"`), []byte(`"dataset":"x"`), 1), 404},
		"method":       {"PUT", "/v1/info", "tok", d, 405},
	} {
		resp := httpDo(t, tc.method, hs.URL+tc.url, tc.token, tc.body)
		if resp.StatusCode != tc.code {
			b, _ := io.ReadAll(resp.Body)
			t.Errorf("%s: %s (%s), want %d", name, resp.Status, strings.TrimSpace(string(b)), tc.code)
		}
	}
}

// TestHTTPJSReader: the npm apache-arrow reader (an implementation
// independent of arrow-go) reads the HTTP stream straight from the server
// and checks its rows, tags and summary (jsinterop/serve.mjs).
func TestHTTPJSReader(t *testing.T) {
	dir := filepath.Join("..", "..", "arrowpair", "jsinterop")
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("SKIPPED JS INTEROP: node not found on PATH")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "apache-arrow")); err != nil {
		t.Skipf("SKIPPED JS INTEROP: run `npm ci` in %s", dir)
	}
	ds := makeDataset(t, 40, 16, 16)
	ts := startServer(t, ds, nil)
	hs := startHTTP(t, ts)
	cfg := baseConfig()
	cfg.WorldSize = 2
	want := local(t, ds, cfg, 1)
	var ids [][]string
	for _, b := range want {
		var s []string
		for _, id := range b.ids {
			s = append(s, strconv.FormatUint(id, 10))
		}
		ids = append(ids, s)
	}
	exp, _ := json.Marshal(map[string]any{"batches_per_epoch": len(want) / 2, "sample_ids": ids})
	expFile := filepath.Join(t.TempDir(), "expect.json")
	if err := os.WriteFile(expFile, exp, 0o644); err != nil {
		t.Fatal(err)
	}
	url := hs.URL + "/v1/stream?endpoint=1"
	body := filepath.Join(t.TempDir(), "desc.json")
	os.WriteFile(body, desc(t, cfg, 1, nil), 0o644)
	out, err := exec.Command(node, filepath.Join(dir, "serve.mjs"), url, body, expFile).CombinedOutput()
	t.Logf("node serve.mjs:\n%s", out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte("OK")) {
		t.Fatal("no OK line")
	}
	// The checker must be able to fail: a wrong expectation is reported.
	ids[0][0] = "999999"
	exp, _ = json.Marshal(map[string]any{"batches_per_epoch": len(want) / 2, "sample_ids": ids})
	os.WriteFile(expFile, exp, 0o644)
	out, err = exec.Command(node, filepath.Join(dir, "serve.mjs"), url, body, expFile).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("serve.mjs accepted a wrong expectation (err %v):\n%s", err, out)
	}
	_ = context.Background
	_ = fmt.Sprint
}
