package store

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Info describes one object.
type Info struct {
	Name string // object name under the location
	Size int64
	ETag string // opaque; "" when the backend gives none
}

// Options configure Open. The zero value takes everything from the
// environment and the defaults below.
type Options struct {
	// Endpoint is the S3 endpoint URL ("http://127.0.0.1:9000",
	// "https://storage.googleapis.com"). Empty: AWS_ENDPOINT_URL_S3, then
	// AWS_ENDPOINT_URL, then Amazon S3 for Region.
	Endpoint string
	// Region is the S3 region. Empty: AWS_REGION, then AWS_DEFAULT_REGION,
	// then "us-east-1".
	Region string
	// PathStyle addresses buckets as endpoint/bucket/key instead of
	// bucket.endpoint/key (MinIO, Ceph and most S3-compatible stores want
	// it). Also set by PAIRFLOW_S3_PATH_STYLE=1.
	PathStyle bool
	// Credentials. Empty: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
	// AWS_SESSION_TOKEN, then the shared credentials file
	// (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, profile
	// AWS_PROFILE or "default"). Finding none is an error unless Anonymous.
	AccessKey, SecretKey, SessionToken string
	// Anonymous sends unsigned S3 requests (public buckets).
	Anonymous bool

	// MaxAttempts is the retry budget per operation, the first attempt
	// included. 0 means 8.
	MaxAttempts int
	// BackoffBase and BackoffMax shape the delay before retry k (k ≥ 1): a
	// uniformly random duration in [0, min(BackoffMax, BackoffBase·2^(k-1))]
	// ("full jitter"). 0 means 100 ms and 10 s.
	BackoffBase, BackoffMax time.Duration
	// StallTimeout aborts (and retries) an attempt that makes no progress
	// for this long: no response, or no body bytes. 0 means 30 s.
	StallTimeout time.Duration
	// PerHost caps concurrent requests to one host, across every Store of
	// the process. The first Store opened for a host sets its cap (0: 16);
	// a later Store with 0 shares that cap, and one that asks for a
	// different cap fails with ErrConfig (the cap is the host's, so two
	// would mean neither).
	PerHost int
	// Transport carries HTTP requests; nil means a clone of
	// http.DefaultTransport.
	Transport http.RoundTripper
}

func (o *Options) fill() error {
	if o.MaxAttempts < 0 || o.PerHost < 0 || o.BackoffBase < 0 || o.BackoffMax < 0 || o.StallTimeout < 0 {
		return fmt.Errorf("store: negative option in %+v: %w", *o, ErrConfig)
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 8
	}
	if o.BackoffBase == 0 {
		o.BackoffBase = 100 * time.Millisecond
	}
	if o.BackoffMax == 0 {
		o.BackoffMax = 10 * time.Second
	}
	if o.StallTimeout == 0 {
		o.StallTimeout = 30 * time.Second
	}
	if o.Transport == nil {
		o.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	return nil
}

// backend is one storage protocol. Each method makes one attempt; errors
// wrap a sentinel (final) or are transient (retried by Store).
type backend interface {
	host() string
	stat(ctx context.Context, name string) (Info, error)
	// get returns the body of bytes [off, off+n) (n < 0: to the end). With
	// ifNoneMatch set, an unchanged object is ErrNotModified.
	get(ctx context.Context, name string, off, n int64, ifNoneMatch string) (io.ReadCloser, Info, error)
	put(ctx context.Context, name string, r io.Reader, size int64, ifAbsent bool) error
	list(ctx context.Context) ([]Info, error)
	remove(ctx context.Context, name string) error
}

// Stats counts a Store's traffic.
type Stats struct {
	Requests int64 // attempts started
	Retries  int64 // attempts after a transient failure
	Bytes    int64 // body bytes read
}

// Store is a flat set of objects under one Location, with retries, a
// per-host concurrency cap and stall detection around the backend. It is
// safe for concurrent use.
type Store struct {
	loc Location
	b   backend
	o   Options
	sem chan struct{}

	requests, retries, bytes atomic.Int64
}

// Open returns the Store for a path or URL (see ParseLocation). For S3 it
// resolves the endpoint, region and credentials (see Options) but sends no
// request.
func Open(location string, o Options) (*Store, error) {
	loc, err := ParseLocation(location)
	if err != nil {
		return nil, err
	}
	return OpenLocation(loc, o)
}

// OpenLocation is Open for a parsed Location.
func OpenLocation(loc Location, o Options) (*Store, error) {
	if err := o.fill(); err != nil {
		return nil, err
	}
	var b backend
	var err error
	switch loc.Scheme {
	case Local:
		b = &localBackend{dir: loc.Path}
	case S3:
		b, err = newS3(loc, &o)
	case HTTP:
		b = &httpBackend{loc: loc, client: &http.Client{Transport: o.Transport}}
	default:
		err = fmt.Errorf("store: scheme %q: %w", loc.Scheme, ErrLocation)
	}
	if err != nil {
		return nil, err
	}
	sem, err := hostSem(b.host(), o.PerHost)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", loc, err)
	}
	o.PerHost = cap(sem)
	return &Store{loc: loc, b: b, o: o, sem: sem}, nil
}

// defaultPerHost is a host's cap when the first Store for it names none.
const defaultPerHost = 16

var (
	semMu sync.Mutex
	sems  = map[string]chan struct{}{}
)

// hostSem returns host's semaphore, making it with n slots (0: the
// default) if it is the first. n ≠ 0 and another cap is an error.
func hostSem(host string, n int) (chan struct{}, error) {
	semMu.Lock()
	defer semMu.Unlock()
	s, ok := sems[host]
	switch {
	case !ok:
		if n == 0 {
			n = defaultPerHost
		}
		s = make(chan struct{}, n)
		sems[host] = s
	case n != 0 && n != cap(s):
		return nil, fmt.Errorf("PerHost %d, but this process already caps %s at %d concurrent requests: %w", n, host, cap(s), ErrConfig)
	}
	return s, nil
}

// Location returns the Store's location.
func (s *Store) Location() Location { return s.loc }

// String returns the location as a URL or path.
func (s *Store) String() string { return s.loc.String() }

// Stats returns the traffic so far.
func (s *Store) Stats() Stats {
	return Stats{Requests: s.requests.Load(), Retries: s.retries.Load(), Bytes: s.bytes.Load()}
}

var errStall = errors.New("stalled: no progress within the stall timeout")

// attempt is one try of an operation: it holds a slot of the host's cap and
// cancels the try if it makes no progress for StallTimeout.
type attempt struct {
	ctx   context.Context
	timer *time.Timer
	s     *Store
}

// progress resets the stall timer.
func (a *attempt) progress() { a.timer.Reset(a.s.o.StallTimeout) }

// do runs f with retries. f's transient errors are retried after a backoff
// until MaxAttempts; other errors end the operation at once.
func (s *Store) do(ctx context.Context, op, name string, f func(a *attempt) error) error {
	url := s.loc.Object(name)
	if name != "" && !validName(name) {
		return &Error{Op: op, URL: url, Attempts: 0, Err: fmt.Errorf("invalid object name %q: %w", name, ErrLocation)}
	}
	var last error
	for try := 1; ; try++ {
		if try > 1 {
			s.retries.Add(1)
			if err := sleep(ctx, s.backoff(try-1)); err != nil {
				return &Error{Op: op, URL: url, Attempts: try - 1, Err: fmt.Errorf("%w (last failure: %v)", err, last)}
			}
		}
		err := s.try(ctx, f)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return &Error{Op: op, URL: url, Attempts: try, Err: ctx.Err()}
		}
		if !isTransient(err) {
			return &Error{Op: op, URL: url, Attempts: try, Err: err}
		}
		last = err
		if try >= s.o.MaxAttempts {
			return &Error{Op: op, URL: url, Attempts: try, Err: fmt.Errorf("%w: %w", ErrRetries, err)}
		}
	}
}

func (s *Store) try(ctx context.Context, f func(a *attempt) error) error {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.sem }()
	s.requests.Add(1)
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	a := &attempt{ctx: actx, s: s}
	a.timer = time.AfterFunc(s.o.StallTimeout, func() { cancel(errStall) })
	defer a.timer.Stop()
	err := f(a)
	if err != nil && ctx.Err() == nil && context.Cause(actx) == errStall {
		return retryable(errStall)
	}
	return err
}

// backoff returns the delay before retry k (k ≥ 1): full jitter under a cap.
func (s *Store) backoff(k int) time.Duration {
	d := s.o.BackoffMax
	if k < 40 {
		d = min(d, s.o.BackoffBase<<(k-1))
	}
	return rand.N(d + 1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stat returns the size and ETag of object name.
func (s *Store) Stat(ctx context.Context, name string) (Info, error) {
	var info Info
	err := s.do(ctx, "stat", name, func(a *attempt) (err error) {
		info, err = s.b.stat(a.ctx, name)
		return err
	})
	return info, err
}

// ReadAt reads exactly len(p) bytes of object name at off, retrying
// transient failures (a short body among them). It checks lengths, not
// content: callers check content (shard records carry CRCs).
func (s *Store) ReadAt(ctx context.Context, name string, p []byte, off int64) error {
	if off < 0 {
		return &Error{Op: "get", URL: s.loc.Object(name), Err: fmt.Errorf("negative offset %d: %w", off, ErrConfig)}
	}
	if len(p) == 0 {
		return nil
	}
	return s.do(ctx, "get", name, func(a *attempt) error {
		body, _, err := s.b.get(a.ctx, name, off, int64(len(p)), "")
		if err != nil {
			return err
		}
		defer body.Close()
		n, err := io.ReadFull(&progressReader{r: body, a: a}, p)
		s.bytes.Add(int64(n))
		if err != nil {
			return readErr(err, n, len(p))
		}
		return nil
	})
}

// readErr classifies an error reading a body: a short body, a reset or a
// timeout is transient.
func readErr(err error, got, want int) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return retryable(fmt.Errorf("short body: %d of %d bytes: %w", got, want, io.ErrUnexpectedEOF))
	}
	return retryable(fmt.Errorf("reading body after %d bytes: %w", got, err))
}

type progressReader struct {
	r io.Reader
	a *attempt
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.a.progress()
	}
	return n, err
}

// Fetch writes the whole of object name to w, which must take the bytes in
// order. size is the expected size (-1 if unknown): a longer object is
// ErrIntegrity. After a failure mid-body the next attempt resumes with a
// range request where the last one stopped. It returns the bytes written.
func (s *Store) Fetch(ctx context.Context, name string, w io.Writer, size int64) (int64, error) {
	var done int64
	err := s.do(ctx, "get", name, func(a *attempt) error {
		if size >= 0 && done == size {
			return nil
		}
		body, info, err := s.b.get(a.ctx, name, done, -1, "")
		if err != nil {
			return err
		}
		defer body.Close()
		if size >= 0 && done+info.Size > size && info.Size >= 0 {
			return fmt.Errorf("object is %d bytes, expected %d: %w", done+info.Size, size, ErrIntegrity)
		}
		lim := io.Reader(&progressReader{r: body, a: a})
		if size >= 0 {
			lim = io.LimitReader(lim, size-done+1)
		}
		n, err := io.Copy(errWriter{w}, lim)
		done += n
		s.bytes.Add(n)
		if err != nil {
			var we writeErr
			if errors.As(err, &we) {
				return err
			}
			return readErr(err, int(done), int(size))
		}
		if size >= 0 && done > size {
			return fmt.Errorf("object is longer than the expected %d bytes: %w", size, ErrIntegrity)
		}
		if size >= 0 && done < size {
			return retryable(fmt.Errorf("short body: %d of %d bytes: %w", done, size, io.ErrUnexpectedEOF))
		}
		return nil
	})
	return done, err
}

// writeErr marks an error from Fetch's writer (not retried).
type writeErr struct{ error }

func (e writeErr) Unwrap() error { return e.error }

type errWriter struct{ w io.Writer }

func (e errWriter) Write(b []byte) (int, error) {
	n, err := e.w.Write(b)
	if err != nil {
		err = writeErr{err}
	}
	return n, err
}

// GetSmall reads the whole of object name, at most max bytes. With etag
// set, an object whose ETag is still etag is ErrNotModified (one
// conditional request).
func (s *Store) GetSmall(ctx context.Context, name string, max int64, etag string) ([]byte, Info, error) {
	var b []byte
	var info Info
	err := s.do(ctx, "get", name, func(a *attempt) error {
		body, inf, err := s.b.get(a.ctx, name, 0, -1, etag)
		if err != nil {
			return err
		}
		defer body.Close()
		b, err = io.ReadAll(io.LimitReader(&progressReader{r: body, a: a}, max+1))
		s.bytes.Add(int64(len(b)))
		if err != nil {
			return readErr(err, len(b), int(inf.Size))
		}
		if int64(len(b)) > max {
			return fmt.Errorf("object is larger than %d bytes: %w", max, ErrIntegrity)
		}
		if inf.Size >= 0 && int64(len(b)) != inf.Size {
			return retryable(fmt.Errorf("short body: %d of %d bytes: %w", len(b), inf.Size, io.ErrUnexpectedEOF))
		}
		if s.loc.Scheme == S3 && isMD5(inf.ETag) {
			// The ETag of an object written in one part is its MD5: check
			// the bytes (a spoiled manifest would mislead every read).
			if sum := md5.Sum(b); hex.EncodeToString(sum[:]) != strings.ToLower(inf.ETag) {
				return retryable(fmt.Errorf("body MD5 %x does not match ETag %s: %w", sum, inf.ETag, ErrIntegrity))
			}
		}
		info = inf
		return nil
	})
	return b, info, err
}

// isMD5 reports whether an ETag is 32 hex digits (a single-part upload's MD5;
// multipart ETags end in "-<parts>").
func isMD5(etag string) bool {
	if len(etag) != 32 {
		return false
	}
	_, err := hex.DecodeString(etag)
	return err == nil
}

// Put writes object name from r (size bytes), re-reading r from the start
// for a retry. With ifAbsent, an existing object is ErrExists; when a retry
// meets an object with exactly r's bytes, it is taken for this put's own
// earlier attempt whose response was lost (so make conditionally written
// content unique if two writers could write the same bytes and must be told
// apart).
func (s *Store) Put(ctx context.Context, name string, r io.ReadSeeker, size int64, ifAbsent bool) error {
	tries := 0
	err := s.do(ctx, "put", name, func(a *attempt) error {
		tries++
		if _, err := r.Seek(0, io.SeekStart); err != nil {
			return err
		}
		return s.b.put(a.ctx, name, &progressReader{r: io.LimitReader(r, size), a: a}, size, ifAbsent)
	})
	if ifAbsent && tries > 1 && errors.Is(err, ErrExists) && s.putLanded(ctx, name, r, size) {
		// An earlier attempt wrote the object and only its response was
		// lost: the object there is ours.
		return nil
	}
	return err
}

// putLanded reports whether object name holds exactly r's size bytes, by
// its MD5 ETag (S3 single-part uploads) or by reading it back when small.
func (s *Store) putLanded(ctx context.Context, name string, r io.ReadSeeker, size int64) bool {
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return false
	}
	h := md5.New()
	if n, err := io.Copy(h, io.LimitReader(r, size)); err != nil || n != size {
		return false
	}
	info, err := s.Stat(ctx, name)
	if err != nil || info.Size != size {
		return false
	}
	if isMD5(strings.Trim(info.ETag, `"`)) {
		return strings.EqualFold(strings.Trim(info.ETag, `"`), hex.EncodeToString(h.Sum(nil)))
	}
	if size > 1<<20 {
		return false
	}
	b, _, err := s.GetSmall(ctx, name, size, "")
	if err != nil {
		return false
	}
	got := md5.Sum(b)
	return hex.EncodeToString(got[:]) == hex.EncodeToString(h.Sum(nil))
}

// List returns the objects directly under the location, sorted by name.
// HTTP cannot list (ErrUnsupported).
func (s *Store) List(ctx context.Context) ([]Info, error) {
	var out []Info
	err := s.do(ctx, "list", "", func(a *attempt) (err error) {
		out, err = s.b.list(a.ctx)
		return err
	})
	return out, err
}

// Delete removes object name; a missing object is not an error.
func (s *Store) Delete(ctx context.Context, name string) error {
	err := s.do(ctx, "delete", name, func(a *attempt) error { return s.b.remove(a.ctx, name) })
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}
