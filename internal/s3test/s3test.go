// Package s3test runs an S3 protocol server for tests and benchmarks: the
// in-memory backend of github.com/johannesboyne/gofakes3 behind an HTTP
// listener on 127.0.0.1, and a fault-injecting proxy to put in front of it
// (or of any HTTP server). It is for tests only.
package s3test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Credentials the test server accepts (it does not check signatures).
const (
	AccessKey = "pairflow-test"
	SecretKey = "pairflow-test-secret"
)

// Handler returns an S3 server over a fresh in-memory backend with the
// named buckets created.
func Handler(buckets ...string) (http.Handler, error) {
	be := s3mem.New()
	for _, b := range buckets {
		if err := be.CreateBucket(b); err != nil {
			return nil, err
		}
	}
	return gofakes3.New(be, gofakes3.WithLogger(gofakes3.DiscardLog())).Server(), nil
}

// Server is an S3 server on 127.0.0.1 with a request counter.
type Server struct {
	*httptest.Server
	Counter *Counter
}

// NewServer starts an S3 server on 127.0.0.1:0 with the named buckets.
// Close it when done.
func NewServer(buckets ...string) (*Server, error) {
	h, err := Handler(buckets...)
	if err != nil {
		return nil, err
	}
	c := &Counter{}
	return &Server{Server: httptest.NewServer(c.Wrap(h)), Counter: c}, nil
}

// Counter counts requests by method and object key.
type Counter struct {
	mu   sync.Mutex
	gets map[string]int
	all  map[string]int
}

// Wrap counts the requests h serves.
func (c *Counter) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		if c.gets == nil {
			c.gets, c.all = map[string]int{}, map[string]int{}
		}
		c.all[r.Method]++
		if r.Method == http.MethodGet && r.URL.RawQuery == "" {
			c.gets[r.URL.Path]++
		}
		c.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// Gets returns how many object GETs (no query string) went to paths
// ending in suffix.
func (c *Counter) Gets(suffix string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for p, k := range c.gets {
		if strings.HasSuffix(p, suffix) {
			n += k
		}
	}
	return n
}

// Requests returns how many requests of method were served ("" for all).
func (c *Counter) Requests(method string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if method != "" {
		return c.all[method]
	}
	n := 0
	for _, k := range c.all {
		n += k
	}
	return n
}

// Reset zeroes the counts.
func (c *Counter) Reset() {
	c.mu.Lock()
	c.gets, c.all = nil, nil
	c.mu.Unlock()
}

// Faults says which requests a Proxy spoils. Every field counts requests
// (all methods) from 1; 0 disables that fault. A request picked by more
// than one field gets the first in this order.
type Faults struct {
	SlowDown  int // every n-th request: 503 with an S3 SlowDown error
	Error500  int // every n-th request: 500 InternalError
	Truncate  int // every n-th GET: the body is cut after half its bytes (connection closed)
	Flip      int // every n-th GET: one body byte is flipped
	Stall     int // every n-th request: no response until Stall elapses or the client gives up
	StallTime time.Duration
	Reset     int // every n-th request: the connection is closed without a response
	Drop      int // every n-th request: served by the target, then the connection is closed (the response is lost)
	// Late: every n-th request is held for StallTime and then served by
	// the target even if its client has given up meanwhile (a write that
	// lands after the client cancelled it). Close waits for it.
	Late int
	// Method, when set, limits the faults to requests of that method
	// (and counts only those).
	Method string
}

// Proxy forwards requests to a target server, spoiling some as Faults says.
type Proxy struct {
	*httptest.Server
	Counter *Counter
	faults  atomic.Pointer[Faults]
	n, gets atomic.Int64
	Spoiled atomic.Int64 // requests spoiled so far
	stop    chan struct{}
}

// NewProxy starts a proxy on 127.0.0.1:0 in front of target (a base URL).
func NewProxy(target string, f Faults) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	p := &Proxy{Counter: &Counter{}, stop: make(chan struct{})}
	p.faults.Store(&f)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = nil
	p.Server = httptest.NewServer(p.Counter.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.serve(rp, w, r)
	})))
	return p, nil
}

// SetFaults replaces the fault plan (counts go on).
func (p *Proxy) SetFaults(f Faults) { p.faults.Store(&f) }

// Close stops the proxy, ending stalled requests first; it waits for Late
// ones.
func (p *Proxy) Close() {
	close(p.stop)
	p.Server.CloseClientConnections()
	p.Server.Close()
}

func every(k, n int64) bool { return k > 0 && n%k == 0 }

func (p *Proxy) serve(rp *httputil.ReverseProxy, w http.ResponseWriter, r *http.Request) {
	f := p.faults.Load()
	if f.Method != "" && r.Method != f.Method {
		rp.ServeHTTP(w, r)
		return
	}
	n := p.n.Add(1)
	var g int64
	if r.Method == http.MethodGet {
		g = p.gets.Add(1)
	}
	switch {
	case every(int64(f.SlowDown), n):
		p.Spoiled.Add(1)
		s3error(w, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
		return
	case every(int64(f.Error500), n):
		p.Spoiled.Add(1)
		s3error(w, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
		return
	case every(int64(f.Stall), n):
		p.Spoiled.Add(1)
		select {
		case <-time.After(f.StallTime):
		case <-r.Context().Done():
		case <-p.stop:
		}
		return
	case every(int64(f.Reset), n):
		p.Spoiled.Add(1)
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				if tc, ok := c.(*net.TCPConn); ok {
					tc.SetLinger(0) // RST, not FIN
				}
				c.Close()
			}
		}
		return
	case every(int64(f.Drop), n):
		p.Spoiled.Add(1)
		rp.ServeHTTP(httptest.NewRecorder(), r)
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
			}
		}
		return
	case every(int64(f.Late), n):
		p.Spoiled.Add(1)
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		r2 := r.Clone(context.WithoutCancel(r.Context()))
		r2.Body = io.NopCloser(bytes.NewReader(body))
		time.Sleep(f.StallTime)
		// A recorder, not w: ReverseProxy cancels the forwarded request
		// when w's client has gone.
		rec := httptest.NewRecorder()
		rp.ServeHTTP(rec, r2)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
		return
	case g > 0 && (every(int64(f.Truncate), g) || every(int64(f.Flip), g)):
		p.Spoiled.Add(1)
		rec := httptest.NewRecorder()
		rp.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		if rec.Code >= 300 || len(body) == 0 {
			w.WriteHeader(rec.Code)
			w.Write(body)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(rec.Code)
		if every(int64(f.Truncate), g) {
			w.Write(body[:len(body)/2]) // the server closes the connection: a short body
			return
		}
		b := bytes.Clone(body)
		b[len(b)/2] ^= 0x20
		w.Write(b)
		return
	}
	rp.ServeHTTP(w, r)
}

func s3error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>`+code+`</Code><Message>`+msg+`</Message><RequestId>fault</RequestId></Error>`)
}
