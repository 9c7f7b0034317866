package shards

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sourcegraph/conc"

	"github.com/pairflow/pairflow/store"
)

// uploader sends a Writer's finished files to object storage.
type uploader struct {
	st        *store.Store
	marker    string
	staging   string
	overwrite bool
	finished  bool

	queue chan uploadJob // nil until the first shard
	wg    conc.WaitGroup

	mu       sync.Mutex
	uploaded []string // shards this Writer uploaded (or tried to)
	err      error    // first upload error
}

func newUploader(dst string, opts WriterOptions) (*uploader, error) {
	st, err := store.Open(dst, opts.Store)
	if err != nil {
		return nil, fmt.Errorf("shards: %w", err)
	}
	if st.Location().Scheme != store.S3 {
		return nil, fmt.Errorf("shards: %s: writing is supported to a directory or s3:// only: %w", dst, ErrInvalid)
	}
	ctx := context.Background()
	_, err = st.Stat(ctx, ManifestName)
	exists := err == nil
	switch {
	case exists && !opts.Overwrite:
		return nil, fmt.Errorf("shards: %s: a dataset is there already (%s exists); overwrite it only if you mean to: %w", st, ManifestName, ErrExists)
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("shards: %w", err)
	}
	// One writer per split at a time: a marker object, put conditionally.
	// It stays behind if a run is killed; the next run then needs Overwrite.
	marker := writingMarker(opts.Split)
	// Unique per writer, so that a retried conditional put recognises its
	// own marker and never another writer's (see store.Store.Put).
	host, _ := os.Hostname()
	note := fmt.Appendf(nil, "a pairflow writer is writing this split: host %s pid %d started %s nonce %016x\n",
		host, os.Getpid(), time.Now().UTC().Format(time.RFC3339Nano), rand.Uint64())
	err = st.Put(ctx, marker, bytes.NewReader(note), int64(len(note)), !opts.Overwrite)
	if errors.Is(err, store.ErrExists) {
		return nil, fmt.Errorf("shards: %s: another writer is writing split %q there, or one was interrupted (%s exists); overwrite only if none is running: %w", st, opts.Split, marker, ErrExists)
	}
	if err != nil {
		return nil, fmt.Errorf("shards: %w", err)
	}
	u := &uploader{st: st, overwrite: opts.Overwrite, marker: marker}
	fail := func(err error) (*uploader, error) {
		st.Delete(ctx, marker)
		return nil, fmt.Errorf("shards: %w", err)
	}
	if exists {
		// Readers must never see new shards under the old manifest: the
		// manifest goes first, then the split's old shards.
		if err := st.Delete(ctx, ManifestName); err != nil {
			return fail(err)
		}
	}
	// Shards of an earlier, interrupted run (no manifest names them).
	ls, err := st.List(ctx)
	if err != nil {
		return fail(err)
	}
	for _, o := range ls {
		if o.Name != marker && isSplitFile(o.Name, opts.Split) {
			if err := st.Delete(ctx, o.Name); err != nil {
				return fail(err)
			}
		}
	}
	if u.staging, err = os.MkdirTemp("", "pairflow-upload-*"); err != nil {
		return fail(fmt.Errorf("staging directory: %w", err))
	}
	return u, nil
}

// errAborted stops an uploader's queue: Abort drops the shards not yet
// being uploaded.
var errAborted = errors.New("shards: upload aborted")

// writingMarker names the object that marks a split being written. Readers
// ignore names that begin with a dot.
func writingMarker(split string) string { return "." + split + ".writing" }

// shard queues a finished shard file for upload and returns: one
// goroutine uploads shards in order while the Writer goes on (at most one
// more finished shard waits on disk). The local copy is removed once
// uploaded. An upload error is returned by a later call, or by manifest.
func (u *uploader) shard(name string, size int64) error {
	if err := u.failed(); err != nil {
		return err
	}
	if u.queue == nil {
		u.queue = make(chan uploadJob, 1)
		u.wg.Go(u.uploadLoop)
	}
	u.queue <- uploadJob{name, size}
	return nil
}

type uploadJob struct {
	name string
	size int64
}

func (u *uploader) uploadLoop() {
	for up := range u.queue {
		if u.failed() != nil {
			continue // drain: the Writer will abort
		}
		if err := u.put(up); err != nil {
			u.mu.Lock()
			u.err = err
			u.mu.Unlock()
		}
	}
}

func (u *uploader) put(up uploadJob) error {
	p := filepath.Join(u.staging, up.name)
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("shards: %w", err)
	}
	defer f.Close()
	u.mu.Lock()
	u.uploaded = append(u.uploaded, up.name) // abort removes it even if the put half-succeeded
	u.mu.Unlock()
	if err := u.st.Put(context.Background(), up.name, f, up.size, false); err != nil {
		return fmt.Errorf("shards: uploading %s: %w", up.name, err)
	}
	os.Remove(p) // its bytes are in the store; the disk is only a staging area
	return nil
}

func (u *uploader) failed() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.err
}

// drain waits for the queued uploads.
func (u *uploader) drain() error {
	if u.queue != nil {
		close(u.queue)
		u.wg.Wait()
		u.queue = nil
	}
	return u.failed()
}

// manifest uploads index.json last, conditionally unless overwriting.
func (u *uploader) manifest(b []byte) error {
	if err := u.drain(); err != nil {
		return err
	}
	err := u.st.Put(context.Background(), ManifestName, bytes.NewReader(b), int64(len(b)), !u.overwrite)
	if errors.Is(err, store.ErrExists) {
		u.uploaded = nil // the shards there may be the other writer's now: leave them
		return fmt.Errorf("shards: %s: another writer published a dataset there while this one ran: %w: %w", u.st, err, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("shards: uploading %s: %w", ManifestName, err)
	}
	return nil
}

// done removes the staging directory after a successful Close.
func (u *uploader) done() {
	u.finished = true
	u.st.Delete(context.Background(), u.marker) // best effort: a leftover marker only asks the next writer for Overwrite
	os.RemoveAll(u.staging)
}

// abort removes the uploaded shards (best effort) and the staging directory.
// No manifest was uploaded, so the split does not open whatever remains.
func (u *uploader) abort() error {
	if u.finished {
		return nil
	}
	// The queued shards are dropped, but the upload in flight is waited
	// for (within the store's stall timeout and retry budget), not
	// cancelled: a store may still write a PUT whose client gave up after
	// sending the whole body, and that shard would then land after the
	// deletes below and stay (TestUpload saw this about once in 70 aborts).
	// Only a PUT that has answered is known to be in place, or not at all.
	u.mu.Lock()
	if u.err == nil {
		u.err = errAborted
	}
	u.mu.Unlock()
	u.drain()
	var errs []error
	for _, name := range u.uploaded {
		errs = append(errs, u.st.Delete(context.Background(), name))
	}
	errs = append(errs, u.st.Delete(context.Background(), u.marker), os.RemoveAll(u.staging))
	return errors.Join(errs...)
}
