package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync/atomic"
	"time"

	"github.com/pairflow/pairflow/internal/atomicfile"
	"github.com/pairflow/pairflow/internal/filelock"
)

// Cache is a local directory of verified objects, named by their SHA-256:
// a shard fetched once is read from disk by every later run, by every
// process sharing the directory. It is safe for concurrent use by several
// goroutines and several processes.
//
// Layout under the directory:
//
//	sha256/<64 hex digits>   verified objects
//	tmp/                     downloads in progress, per-object lock files
//	manifests/<key>.json     manifests with their ETag, for revalidation
//	lock                     taken while evicting
//
// An object is downloaded to a temporary file, its size and SHA-256 are
// checked, it is synced and renamed into sha256/: a file there is always
// complete and verified, and a download that fails or does not match
// leaves nothing behind. One process at a time downloads a given object
// (an exclusive lock on tmp/<sum>.lock); the others wait and then find it
// there. Eviction removes the least recently used objects (by modification
// time, which a hit refreshes) once the total passes MaxBytes. On unix an
// evicted file that a reader still has open or mapped stays readable until
// that reader closes it (the disk space comes back then).
type Cache struct {
	dir string
	max int64
	est atomic.Int64 // bytes in sha256/ as last counted plus bytes added since
}

// DefaultCacheBytes is the cache size limit when none is given: 64 GiB.
const DefaultCacheBytes = 64 << 30

// OpenCache opens (creating if needed) the cache directory dir with a size
// limit of maxBytes (0: DefaultCacheBytes; negative: no limit).
func OpenCache(dir string, maxBytes int64) (*Cache, error) {
	if dir == "" {
		return nil, fmt.Errorf("store: empty cache directory: %w", ErrConfig)
	}
	if maxBytes == 0 {
		maxBytes = DefaultCacheBytes
	}
	for _, sub := range []string{"sha256", "tmp", "manifests"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("store: cache: %w", err)
		}
	}
	c := &Cache{dir: dir, max: maxBytes}
	total, _, err := c.scan()
	if err != nil {
		return nil, err
	}
	c.est.Store(total)
	return c, nil
}

// DefaultCacheDir is where a cache goes when none is named:
// $PAIRFLOW_CACHE_DIR, else the user cache directory's "pairflow".
func DefaultCacheDir() (string, error) {
	if d := os.Getenv("PAIRFLOW_CACHE_DIR"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("store: no cache directory (set PAIRFLOW_CACHE_DIR): %v: %w", err, ErrConfig)
	}
	return filepath.Join(d, "pairflow"), nil
}

// Dir returns the cache directory.
func (c *Cache) Dir() string { return c.dir }

// Path returns where the object with SHA-256 sum lives in the cache
// (whether or not it is there).
func (c *Cache) Path(sum string) string { return filepath.Join(c.dir, "sha256", sum) }

func validSum(sum string) bool {
	if len(sum) != 64 {
		return false
	}
	for i := 0; i < len(sum); i++ {
		if c := sum[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// integrityAttempts is how many times Get downloads an object whose bytes
// do not match before it gives up.
const integrityAttempts = 3

// Get returns the path of the cached object whose SHA-256 is sum (lower-case
// hex) and whose size is size, downloading it from object name of s if the
// cache does not hold it. fetched reports whether it was downloaded by this
// call. A download that does not match size and sum is fetched again, up to
// three times, and then is an error wrapping ErrIntegrity; nothing is
// cached then.
func (c *Cache) Get(ctx context.Context, s *Store, name string, size int64, sum string) (path string, fetched bool, err error) {
	if !validSum(sum) || size < 0 {
		return "", false, fmt.Errorf("store: cache: object %s: bad size %d or SHA-256 %q: %w", name, size, sum, ErrConfig)
	}
	p := c.Path(sum)
	if c.hit(p, size) {
		return p, false, nil
	}
	lock, err := filelock.Acquire(ctx, filepath.Join(c.dir, "tmp", sum+".lock"))
	if err != nil {
		return "", false, fmt.Errorf("store: cache: %w", err)
	}
	defer lock.Unlock()
	if c.hit(p, size) { // another process fetched it while we waited
		return p, false, nil
	}
	var last error
	for range integrityAttempts {
		last = c.download(ctx, s, name, size, sum, p)
		if last == nil {
			c.added(size, p)
			return p, true, nil
		}
		if !errors.Is(last, ErrIntegrity) {
			return "", false, last
		}
	}
	return "", false, last
}

// hit reports whether p holds an object of the right size, and refreshes its
// time for the LRU order.
func (c *Cache) hit(p string, size int64) bool {
	st, err := os.Stat(p)
	if err != nil || st.Size() != size {
		return false
	}
	now := time.Now()
	_ = os.Chtimes(p, now, now) // LRU clock; failure only skews eviction order
	return true
}

func (c *Cache) download(ctx context.Context, s *Store, name string, size int64, sum, dst string) error {
	f, err := os.CreateTemp(filepath.Join(c.dir, "tmp"), sum+".*.part")
	if err != nil {
		return fmt.Errorf("store: cache: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename this finds nothing
	h := sha256.New()
	_, err = s.Fetch(ctx, name, io.MultiWriter(f, h), size)
	if err == nil {
		if got := hex.EncodeToString(h.Sum(nil)); got != sum {
			err = &Error{Op: "get", URL: s.loc.Object(name), Attempts: 1,
				Err: fmt.Errorf("downloaded bytes have SHA-256 %s, the manifest says %s: %w", got, sum, ErrIntegrity)}
		}
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("store: cache: %w", cerr)
	}
	if err == nil {
		if err = os.Rename(tmp, dst); err != nil {
			err = fmt.Errorf("store: cache: %w", err)
		}
	}
	return err
}

// added accounts for a new object and evicts if the cache is over its limit.
func (c *Cache) added(size int64, keep string) {
	if c.est.Add(size) > c.max && c.max > 0 {
		_ = c.Evict(context.Background(), keep) // best effort: a failure leaves the cache larger
	}
}

type entry struct {
	path  string
	size  int64
	mtime time.Time
}

func (c *Cache) scan() (int64, []entry, error) {
	ents, err := os.ReadDir(filepath.Join(c.dir, "sha256"))
	if err != nil {
		return 0, nil, fmt.Errorf("store: cache: %w", err)
	}
	var total int64
	out := make([]entry, 0, len(ents))
	for _, e := range ents {
		if !validSum(e.Name()) {
			continue
		}
		st, err := e.Info()
		if err != nil {
			continue // evicted by another process meanwhile
		}
		total += st.Size()
		out = append(out, entry{filepath.Join(c.dir, "sha256", e.Name()), st.Size(), st.ModTime()})
	}
	return total, out, nil
}

// Evict removes least recently used objects until the cache holds at most
// 90% of its limit, never removing keep (a path; may be ""). It holds the
// cache's eviction lock, so concurrent evictions (in any process) do not
// remove more than needed.
func (c *Cache) Evict(ctx context.Context, keep string) error {
	if c.max <= 0 {
		return nil
	}
	lock, err := filelock.Acquire(ctx, filepath.Join(c.dir, "lock"))
	if err != nil {
		return fmt.Errorf("store: cache: %w", err)
	}
	defer lock.Unlock()
	total, ents, err := c.scan()
	if err != nil {
		return err
	}
	target := c.max - c.max/10
	if total > c.max {
		sort.Slice(ents, func(i, j int) bool { return ents[i].mtime.Before(ents[j].mtime) })
		for _, e := range ents {
			if total <= target {
				break
			}
			if e.path == keep {
				continue
			}
			if err := os.Remove(e.path); err == nil || errors.Is(err, os.ErrNotExist) {
				total -= e.size
			}
		}
	}
	c.est.Store(total)
	return nil
}

// Usage returns the bytes the cache's objects take now.
func (c *Cache) Usage() (int64, error) {
	total, _, err := c.scan()
	return total, err
}

// manifestEntry is a cached manifest: the body and the ETag it had.
type manifestEntry struct {
	URL  string `json:"url"`
	ETag string `json:"etag"`
	Body []byte `json:"body"`
}

// maxManifestEntry bounds a cached manifest file.
const maxManifestEntry = 128 << 20

func (c *Cache) manifestPath(url string) string {
	h := sha256.Sum256([]byte(url))
	return filepath.Join(c.dir, "manifests", hex.EncodeToString(h[:16])+".json")
}

// Manifest returns the cached copy of the object at url (a full object URL)
// and its ETag; ok is false when there is none or the file is unreadable.
func (c *Cache) Manifest(url string) (body []byte, etag string, ok bool) {
	b, err := os.ReadFile(c.manifestPath(url))
	if err != nil {
		return nil, "", false
	}
	e, err := parseManifestEntry(b)
	if err != nil || e.URL != url {
		return nil, "", false
	}
	return e.Body, e.ETag, true
}

// parseManifestEntry strictly decodes a cached manifest file.
func parseManifestEntry(b []byte) (manifestEntry, error) {
	var e manifestEntry
	if len(b) > maxManifestEntry {
		return e, fmt.Errorf("cached manifest of %d bytes is too large", len(b))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return manifestEntry{}, err
	}
	if dec.More() {
		return manifestEntry{}, errors.New("data after the cached manifest")
	}
	if e.URL == "" || e.ETag == "" {
		return manifestEntry{}, errors.New("cached manifest without URL or ETag")
	}
	return e, nil
}

// PutManifest records body as the content of url with ETag etag (through
// internal/atomicfile: readers see the old entry or the new one).
func (c *Cache) PutManifest(url, etag string, body []byte) error {
	if etag == "" {
		return nil // nothing to revalidate with
	}
	b, err := json.Marshal(manifestEntry{URL: url, ETag: etag, Body: body})
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(c.manifestPath(url), b, 0o644); err != nil {
		return fmt.Errorf("store: cache: %w", err)
	}
	return nil
}
