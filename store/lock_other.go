//go:build !unix

package store

import (
	"context"
	"sync"
)

// Off unix the cache's locks are process-local: several processes sharing
// one cache directory may download an object twice (the result is still
// correct: each download is verified and renamed into place whole).
var locks sync.Map

func lockFile(ctx context.Context, path string) (func(), error) {
	v, _ := locks.LoadOrStore(path, make(chan struct{}, 1))
	ch := v.(chan struct{})
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
