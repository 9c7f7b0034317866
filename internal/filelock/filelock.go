// Package filelock takes exclusive advisory locks on files, shared by
// processes and by goroutines of one process: an flock(2) lock on unix and
// a LockFileEx lock on Windows, both released by the kernel when the
// holder dies, so a lock file left behind by a crash never blocks anyone.
// On other systems the lock only excludes the goroutines of this process.
//
// It is for a process's own coordination files (a writer's directory lock,
// a cache's download and eviction locks, a results directory's lock). The
// lock file is created if missing; Remove deletes it as it lets go, and a
// holder that locked a file someone removed meanwhile notices and locks the
// new one.
package filelock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// ErrLocked means another holder (in this process or another) has the
// lock.
var ErrLocked = errors.New("filelock: locked by another holder")

// Lock is a held lock. Its file stays open until Unlock.
type Lock struct {
	f    *os.File
	path string
}

// TryLock takes the exclusive lock on path, creating the file (mode 0644)
// if needed, without waiting: if another holder has it, it returns an error
// wrapping ErrLocked.
func TryLock(path string) (*Lock, error) {
	for range 10 { // again only when the file was removed under us
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("filelock: %w", err)
		}
		ok, err := tryLock(f)
		if err != nil || !ok {
			f.Close()
			if err == nil {
				err = ErrLocked
			}
			return nil, fmt.Errorf("filelock: %s: %w", path, err)
		}
		l := &Lock{f: f, path: path}
		// The holder before us may have removed the file (Remove) between
		// our open and our lock: then we locked a file no one else will see.
		if l.same() {
			return l, nil
		}
		l.Unlock()
	}
	return nil, fmt.Errorf("filelock: %s keeps being replaced: %w", path, ErrLocked)
}

// Acquire is TryLock that waits for the holder to let go, polling (every
// millisecond at first, at most every 50 ms) until ctx ends; then it
// returns ctx's error.
func Acquire(ctx context.Context, path string) (*Lock, error) {
	wait := time.Millisecond
	for {
		l, err := TryLock(path)
		if !errors.Is(err, ErrLocked) {
			return l, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("filelock: %s: waiting for the lock: %w", path, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// File is the locked file, open for reading and writing (a holder may write
// its process id into it, say).
func (l *Lock) File() *os.File { return l.f }

// same reports whether the lock's path still names the locked file.
func (l *Lock) same() bool {
	a, err := l.f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(l.path)
	return err == nil && os.SameFile(a, b)
}

// Remove deletes the lock file, then releases the lock (Unlock). A holder
// waiting for it locks a new file. Where an open file cannot be removed
// (Windows) the file stays, which does no harm. Safe on a nil Lock and
// twice.
func (l *Lock) Remove() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := os.Remove(l.path)
	if uerr := l.Unlock(); err == nil {
		err = uerr
	}
	return err
}

// Unlock releases the lock and closes the file. It is safe on a nil Lock
// and twice.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := unlock(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}
