package filelock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestTryLock(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	l, err := TryLock(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := TryLock(p); !errors.Is(err, ErrLocked) {
		t.Fatalf("second TryLock while held: %v", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal("second Unlock:", err)
	}
	l2, err := TryLock(p)
	if err != nil {
		t.Fatal("TryLock after Unlock:", err)
	}
	if err := l2.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("Remove left the file: %v", err)
	}
	if err := l2.Remove(); err != nil {
		t.Fatal("second Remove:", err)
	}
	if _, err := TryLock(filepath.Join(t.TempDir(), "no", "dir")); err == nil || errors.Is(err, ErrLocked) {
		t.Errorf("lock in a missing directory: %v", err)
	}
}

// Acquire waits for the holder and gives up when its context ends; the
// lock excludes goroutines (run with -race), also when holders remove the
// file as they let go (a waiter that locked the removed file must notice).
func TestAcquire(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	l, err := TryLock(p)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := Acquire(ctx, p); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire while held until the deadline: %v", err)
	}
	l.Unlock()

	var wg sync.WaitGroup
	var mu sync.Mutex
	inside, most, total := 0, 0, 0
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 25 {
				l, err := Acquire(context.Background(), p)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				inside++
				most = max(most, inside)
				total++
				mu.Unlock()
				time.Sleep(50 * time.Microsecond) // hold it a moment
				mu.Lock()
				inside--
				mu.Unlock()
				if j%2 == 0 {
					l.Remove()
				} else {
					l.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if most != 1 || total != 100 {
		t.Fatalf("%d holders at once (want 1), %d acquisitions (want 100)", most, total)
	}
}

func ExampleTryLock() {
	dir, _ := os.MkdirTemp("", "filelock-example-")
	defer os.RemoveAll(dir)
	l, err := TryLock(filepath.Join(dir, "writer.lock"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Unlock()
	_, err = TryLock(filepath.Join(dir, "writer.lock"))
	fmt.Println(errors.Is(err, ErrLocked))
	// Output: true
}
