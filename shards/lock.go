package shards

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pairflow/pairflow/internal/filelock"
	"github.com/pairflow/pairflow/internal/inputfile"
)

// LockName is the lock file a Writer holds in its directory while it
// writes. It begins with a dot, so readers ignore it; a Writer removes it
// when it finishes. The lock is internal/filelock's (flock(2) on unix,
// LockFileEx on Windows), released by the kernel if the process dies, so a
// stale file never blocks a later run.
const LockName = ".pairflow-writer.lock"

// lockDir takes dir's writer lock or fails with ErrLocked naming the holder.
// The Writer lets go with the lock's Remove (the file goes, then the lock;
// safe on nil and twice).
func lockDir(dir string) (*filelock.Lock, error) {
	p := filepath.Join(dir, LockName)
	l, err := filelock.TryLock(p)
	if errors.Is(err, filelock.ErrLocked) {
		holder := ""
		if b, err := os.ReadFile(p); err == nil && len(b) < 64 {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				holder = fmt.Sprintf(" (process %d)", pid)
			}
		}
		return nil, fmt.Errorf("shards: %s: another writer%s is writing into this directory (lock %s held): %w", dir, holder, LockName, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("shards: lock %s: %w", p, err)
	}
	// The pid names the holder in a later writer's ErrLocked.
	f := l.File()
	if err = f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	if err != nil {
		l.Remove()
		return nil, fmt.Errorf("shards: lock %s: write pid: %w", p, err)
	}
	return l, nil
}

// manifestSplit returns the split named by the manifest at p, or "" and why
// it cannot tell (not a regular file, unreadable, not a manifest).
func manifestSplit(p string, st fs.FileInfo) (string, string) {
	if !st.Mode().IsRegular() {
		return "", fmt.Sprintf("%s is not a regular file", ManifestName)
	}
	f, _, err := inputfile.Open(p) // does not block if a FIFO was put there since st
	if err != nil {
		return "", err.Error()
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxManifestSize+1))
	if err != nil {
		return "", err.Error()
	}
	var probe struct {
		Format string `json:"format"`
		Split  string `json:"split"`
	}
	if err := json.Unmarshal(b, &probe); err != nil || probe.Format != FormatName || !validSplit(probe.Split) {
		return "", fmt.Sprintf("%s is not a pairflow manifest", ManifestName)
	}
	return probe.Split, fmt.Sprintf("%s belongs to split %q", ManifestName, probe.Split)
}
