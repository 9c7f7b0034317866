package shards

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pairflow/pairflow/store"
)

// uploader sends a Writer's finished files to object storage.
type uploader struct {
	st        *store.Store
	marker    string
	staging   string
	overwrite bool
	uploaded  []string // shards uploaded by this Writer
	finished  bool
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
	note := []byte("a pairflow writer is writing this split\n")
	err = st.Put(ctx, marker, bytesReader(note), int64(len(note)), !opts.Overwrite)
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

// writingMarker names the object that marks a split being written. Readers
// ignore names that begin with a dot.
func writingMarker(split string) string { return "." + split + ".writing" }

// shard uploads a finished shard file and removes the local copy.
func (u *uploader) shard(name string, size int64) error {
	p := filepath.Join(u.staging, name)
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("shards: %w", err)
	}
	defer f.Close()
	u.uploaded = append(u.uploaded, name) // abort removes it even if the put half-succeeded
	if err := u.st.Put(context.Background(), name, f, size, false); err != nil {
		return fmt.Errorf("shards: uploading %s: %w", name, err)
	}
	os.Remove(p) // its bytes are in the store; the disk is only a staging area
	return nil
}

// manifest uploads index.json last, conditionally unless overwriting.
func (u *uploader) manifest(b []byte) error {
	err := u.st.Put(context.Background(), ManifestName, bytesReader(b), int64(len(b)), !u.overwrite)
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
	var errs []error
	for _, name := range u.uploaded {
		errs = append(errs, u.st.Delete(context.Background(), name))
	}
	errs = append(errs, u.st.Delete(context.Background(), u.marker), os.RemoveAll(u.staging))
	return errors.Join(errs...)
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
