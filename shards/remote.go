package shards

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/sourcegraph/conc"

	"github.com/pairflow/pairflow/store"
)

// Access says how a remote split's shards are read.
type Access int

const (
	// AccessWhole fetches each shard whole into the local cache, checks it
	// against the manifest's SHA-256 before use, and reads it from there
	// (memory-mapped, as a local split). Right for streaming and for
	// training over many epochs. The default.
	AccessWhole Access = iota
	// AccessRange reads the footer index and then each record with a range
	// request, checked by the record's CRCs (no SHA-256: the whole shard is
	// never read). Right for sparse random access to a large split. Iter and
	// Verify still fetch whole shards.
	AccessRange
)

// OpenOptions configure Open for remote splits (s3://, https://); a local
// directory ignores them. The zero value is usable.
type OpenOptions struct {
	// Store configures the S3 or HTTP client (endpoint, region, path-style
	// addressing, credentials, retries, per-host concurrency); its zero
	// value reads the standard AWS environment variables.
	Store store.Options
	// CacheDir is the shard cache, shared safely by any number of
	// processes. Empty: $PAIRFLOW_CACHE_DIR, else the user cache directory's
	// "pairflow".
	CacheDir string
	// CacheBytes caps the cache (least recently used shards are evicted).
	// 0: $PAIRFLOW_CACHE_BYTES if set (a size such as 50GiB, see
	// store.CacheBytesEnv), else store.DefaultCacheBytes; negative: no limit.
	CacheBytes int64
	// Access chooses whole-shard fetches (default) or range reads.
	Access Access
	// PrefetchShards is how many shards, beyond the last one read, are
	// fetched ahead in the order given to Prefetch (AccessWhole only). 0
	// means 4; negative turns prefetching off.
	PrefetchShards int
	// PrefetchWorkers is how many shards download at once ahead of the
	// reader. 0 means 2.
	PrefetchWorkers int
}

// testHookCached, when set by a test, runs between the cache lookup of a
// shard and its open.
var testHookCached func(path string)

// rangeAttempts is how many times a record read by range whose CRC or length
// fails is read again before the error is returned.
const rangeAttempts = 4

// remote is the remote side of a Dataset.
type remote struct {
	d      *Dataset
	st     *store.Store
	cache  *store.Cache
	ranged bool
	ctx    context.Context
	cancel context.CancelFunc
	mu     []sync.Mutex             // per shard, held while opening it
	wholes []atomic.Pointer[opened] // AccessRange: whole shards for Iter/Verify
	fetch  atomic.Int64             // shards downloaded by this Dataset
	seen   []atomic.Bool            // seen[j]: shard j was read (for the prefetch window)

	pf struct {
		sync.Mutex
		order   []int
		pos     []int // pos[j]: index of shard j in order, -1 if absent
		next    int   // next index of order to fetch
		cursor  int   // highest index of order read so far
		ahead   int
		workers int
		running bool
		kick    chan struct{}
		wg      conc.WaitGroup
	}
}

func openRemote(src string, o OpenOptions) (*Dataset, error) {
	st, err := store.Open(src, o.Store)
	if err != nil {
		return nil, fmt.Errorf("shards: %w", err)
	}
	if o.Access != AccessWhole && o.Access != AccessRange {
		return nil, fmt.Errorf("shards: Access %d: %w", o.Access, ErrInvalid)
	}
	if o.PrefetchWorkers < 0 {
		return nil, fmt.Errorf("shards: PrefetchWorkers %d: %w", o.PrefetchWorkers, ErrInvalid)
	}
	dir := o.CacheDir
	if dir == "" {
		if dir, err = store.DefaultCacheDir(); err != nil {
			return nil, fmt.Errorf("shards: %w", err)
		}
	}
	limit := o.CacheBytes
	if limit == 0 {
		if limit, err = store.CacheBytesFromEnv(); err != nil {
			return nil, fmt.Errorf("shards: %w: %w", err, ErrInvalid)
		}
	}
	cache, err := store.OpenCache(dir, limit)
	if err != nil {
		return nil, fmt.Errorf("shards: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m, raw, revalidated, err := remoteManifest(ctx, st, cache)
	if err == nil && !revalidated {
		// A listing that disagrees is read again: its bytes may have been
		// spoiled in transit (S3 listings carry no checksum).
		for range 3 {
			if err = checkListing(ctx, st, m); !errors.Is(err, ErrManifest) {
				break
			}
		}
	}
	if err != nil {
		cancel()
		return nil, err
	}
	d := newDataset(st.String(), m)
	d.raw = raw
	r := &remote{d: d, st: st, cache: cache, ranged: o.Access == AccessRange, ctx: ctx, cancel: cancel,
		mu: make([]sync.Mutex, len(m.Shards)), seen: make([]atomic.Bool, len(m.Shards))}
	if r.ranged {
		r.wholes = make([]atomic.Pointer[opened], len(m.Shards))
	}
	r.pf.ahead, r.pf.workers = o.PrefetchShards, o.PrefetchWorkers
	if r.pf.ahead == 0 {
		r.pf.ahead = 4
	}
	if r.pf.workers == 0 {
		r.pf.workers = 2
	}
	r.pf.kick = make(chan struct{}, 1)
	d.remote = r
	return d, nil
}

// remoteManifest reads index.json, revalidating the cached copy (one
// conditional GET) when there is one. revalidated reports a cached copy
// confirmed unchanged.
func remoteManifest(ctx context.Context, st *store.Store, cache *store.Cache) (m *Manifest, raw []byte, revalidated bool, err error) {
	url := st.Location().Object(ManifestName)
	cached, etag, ok := cache.Manifest(url)
	if !ok {
		etag = ""
	}
	b, info, err := st.GetSmall(ctx, ManifestName, MaxManifestSize, etag)
	switch {
	case ok && errors.Is(err, store.ErrNotModified):
		b, revalidated = cached, true
	case errors.Is(err, store.ErrNotFound):
		return nil, nil, false, fmt.Errorf("shards: %s: no %s there (not a dataset, or not written completely): %w: %w", st, ManifestName, err, ErrManifest)
	case err != nil:
		return nil, nil, false, fmt.Errorf("shards: %w", err)
	}
	if m, err = ParseManifest(b); err != nil {
		return nil, nil, false, fmt.Errorf("%w (from %s)", err, url)
	}
	if !revalidated {
		_ = cache.PutManifest(url, info.ETag, b) // only saves a download next time
	}
	return m, b, revalidated, nil
}

// checkListing compares the store's listing with the manifest, as Open does
// for a directory: listed shards present with their sizes, no unlisted shard
// of the split. Stores that cannot list (HTTP) are checked shard by shard as
// they are fetched.
func checkListing(ctx context.Context, st *store.Store, m *Manifest) error {
	ls, err := st.List(ctx)
	if errors.Is(err, store.ErrUnsupported) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("shards: %w", err)
	}
	have := make(map[string]int64, len(ls))
	for _, o := range ls {
		have[o.Name] = o.Size
	}
	for _, si := range m.Shards {
		size, ok := have[si.File]
		switch {
		case !ok:
			return fmt.Errorf("shards: %s: %s lists %s, which is not there: %w", st, ManifestName, si.File, ErrManifest)
		case size != si.Bytes:
			return newErr(st.Location().Object(si.File), -1, -1, ErrManifest, "object is %d bytes, %s says %d", size, ManifestName, si.Bytes)
		}
	}
	names := make([]string, len(ls))
	for i, o := range ls {
		names[i] = o.Name
	}
	return checkUnlisted(st.String(), m, names)
}

// Remote reports whether the Dataset reads from object storage.
func (d *Dataset) Remote() bool { return d.remote != nil }

// Fetched returns how many shards this Dataset has downloaded (cache misses);
// 0 for a local split.
func (d *Dataset) Fetched() int64 {
	if d.remote == nil {
		return 0
	}
	return d.remote.fetch.Load()
}

// open opens shard j on first use: whole from the cache, or by range.
func (r *remote) open(j int) (*opened, error) {
	if r.ranged {
		return r.openRanged(j)
	}
	return r.whole(j)
}

func (r *remote) openRanged(j int) (*opened, error) {
	r.mu[j].Lock()
	defer r.mu[j].Unlock()
	if o := r.d.slots[j].Load(); o != nil {
		return o, nil
	}
	si := r.d.m.Shards[j]
	var s *Shard
	var err error
	for attempt := 1; attempt <= rangeAttempts; attempt++ {
		// The header, index and trailer are CRC-checked: a mismatch may be
		// bytes spoiled in transit, so they are read again.
		s, err = openChecked(&rangeReader{r: r, name: si.File}, si)
		if err == nil || !spoiled(err) {
			break
		}
	}
	if err != nil {
		return nil, r.annotate(si, err)
	}
	o := &opened{s: s}
	r.d.slots[j].Store(o)
	return o, nil
}

// whole returns shard j fetched into the cache and opened from there.
func (r *remote) whole(j int) (*opened, error) {
	slot := &r.d.slots[j]
	if r.ranged {
		slot = &r.wholes[j]
	}
	if o := slot.Load(); o != nil {
		return o, nil
	}
	r.mu[j].Lock()
	defer r.mu[j].Unlock()
	if o := slot.Load(); o != nil {
		return o, nil
	}
	if r.d.closed.Load() {
		return nil, fmt.Errorf("shards: %w", ErrClosed)
	}
	si := r.d.m.Shards[j]
	var o *opened
	for attempt := 1; ; attempt++ {
		path, fetched, err := r.cache.Get(r.ctx, r.st, si.File, si.Bytes, si.SHA256)
		if err != nil {
			return nil, r.annotate(si, err)
		}
		if fetched {
			r.fetch.Add(1)
		}
		if testHookCached != nil {
			testHookCached(path)
		}
		o, err = openListed(path, si, os.Getenv(NoMmapEnv) == "", &r.d.mapSet)
		if err == nil {
			break
		}
		// Another process may have evicted the file between Get and the
		// open: fetch it again.
		if !errors.Is(err, os.ErrNotExist) || attempt == 3 {
			return nil, fmt.Errorf("%w (cached copy %s of %s)", err, path, r.st.Location().Object(si.File))
		}
	}
	slot.Store(o)
	return o, nil
}

// annotate names the shard and its URL in an error.
func (r *remote) annotate(si ShardInfo, err error) error {
	var se *Error
	if errors.As(err, &se) {
		return err // names the shard and record already
	}
	sentinel := ErrManifest
	switch {
	case errors.Is(err, store.ErrIntegrity):
		sentinel = ErrChecksum
	case errors.Is(err, ErrClosed), errors.Is(err, context.Canceled):
		sentinel = ErrClosed
	}
	return fmt.Errorf("shards: shard %s (%s): %w: %w", si.File, r.st.Location().Object(si.File), err, sentinel)
}

// record reads record k of shard j by range, reading it again when its CRC
// or length fails (the bytes may have been spoiled in transit).
func (r *remote) record(j, k int, rec *Record) error {
	o, err := r.open(j)
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		err = o.s.Record(k, rec)
		if err == nil || attempt >= rangeAttempts || !spoiled(err) {
			if err != nil && attempt > 1 {
				err = fmt.Errorf("%w (%d reads of %s)", err, attempt, r.st.Location().Object(r.d.m.Shards[j].File))
			}
			return err
		}
	}
}

// spoiled reports an error that bytes spoiled in transit could cause (a
// failed CRC, length or structure check): such a read is worth repeating.
func spoiled(err error) bool {
	return errors.Is(err, ErrChecksum) || errors.Is(err, ErrTruncated) || errors.Is(err, ErrCorrupt)
}

// rangeReader reads a remote shard by range requests.
type rangeReader struct {
	r    *remote
	name string
}

func (rr *rangeReader) ReadAt(p []byte, off int64) (int, error) {
	if err := rr.r.st.ReadAt(rr.r.ctx, rr.name, p, off); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (r *remote) close() error {
	r.cancel()
	r.pf.Lock()
	r.pf.order = nil
	r.pf.Unlock()
	r.pf.wg.Wait()
	var errs []error
	for j := range r.wholes {
		errs = append(errs, r.wholes[j].Swap(nil).close())
	}
	return errors.Join(errs...)
}

// Prefetch tells a remote split the order in which shards will be read
// (each shard once, the first to be read first): shards are then fetched
// into the cache ahead of the reader, up to OpenOptions.PrefetchShards
// beyond the furthest shard read so far, by PrefetchWorkers downloads at
// once. A later call replaces the order. It returns at once; fetch errors
// are left for the read of that shard to report. It does nothing for a
// local split, under AccessRange, or with prefetching off.
func (d *Dataset) Prefetch(order []int) {
	r := d.remote
	if r == nil || r.ranged || r.pf.ahead < 0 || d.closed.Load() {
		return
	}
	pos := make([]int, len(d.slots))
	for j := range pos {
		pos[j] = -1
	}
	clean := make([]int, 0, len(order))
	for _, j := range order {
		if j >= 0 && j < len(pos) && pos[j] < 0 {
			pos[j] = len(clean)
			clean = append(clean, j)
		}
	}
	r.pf.Lock()
	r.pf.order, r.pf.pos, r.pf.next, r.pf.cursor = clean, pos, 0, -1
	if !r.pf.running {
		r.pf.running = true
		for range r.pf.workers {
			r.pf.wg.Go(r.prefetchLoop)
		}
	}
	r.pf.Unlock()
	r.wake()
}

func (r *remote) wake() {
	select {
	case r.pf.kick <- struct{}{}:
	default:
	}
}

// touch notes that shard j is being read: prefetching may run further.
func (r *remote) touch(j int) {
	if r.seen[j].Swap(true) {
		return
	}
	r.pf.Lock()
	moved := false
	if r.pf.pos != nil && r.pf.pos[j] > r.pf.cursor {
		r.pf.cursor, moved = r.pf.pos[j], true
	}
	r.pf.Unlock()
	if moved {
		r.wake()
	}
}

// take returns the next shard to prefetch, if the window allows one.
func (r *remote) take() (int, bool) {
	r.pf.Lock()
	defer r.pf.Unlock()
	for r.pf.next < len(r.pf.order) && r.pf.next <= r.pf.cursor+r.pf.ahead {
		j := r.pf.order[r.pf.next]
		r.pf.next++
		if r.d.slots[j].Load() == nil {
			return j, true
		}
	}
	return 0, false
}

func (r *remote) prefetchLoop() {
	for {
		j, ok := r.take()
		if !ok {
			select {
			case <-r.pf.kick:
				continue
			case <-r.ctx.Done():
				return
			}
		}
		r.wake()          // let another worker look for more
		_, _ = r.whole(j) // an error is reported by the read that needs the shard
		if r.ctx.Err() != nil {
			return
		}
	}
}
