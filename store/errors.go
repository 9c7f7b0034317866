package store

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one of them (or a
// context error); test with errors.Is.
var (
	// ErrLocation: the path or URL cannot be parsed or names an unknown scheme.
	ErrLocation = errors.New("invalid location")
	// ErrConfig: the configuration is incomplete (no credentials, no
	// endpoint) or an option is out of range.
	ErrConfig = errors.New("invalid configuration")
	// ErrNotFound: the object (or the bucket) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists: a conditional write found the object already there.
	ErrExists = errors.New("already exists")
	// ErrNotModified: a conditional read found the object unchanged.
	ErrNotModified = errors.New("not modified")
	// ErrUnsupported: the backend cannot do this (writing or listing over HTTP).
	ErrUnsupported = errors.New("not supported by this backend")
	// ErrDenied: the store refused the credentials or the request.
	ErrDenied = errors.New("access denied")
	// ErrRetries: the retry budget ran out on transient failures.
	ErrRetries = errors.New("retry budget exhausted")
	// ErrIntegrity: fetched bytes do not match the expected size or SHA-256.
	ErrIntegrity = errors.New("integrity check failed")
)

// Error is a failed operation on one object.
type Error struct {
	Op       string // "get", "stat", "put", "list", "delete"
	URL      string // the object's URL or path (no query string)
	Attempts int    // attempts made
	Err      error  // wraps a sentinel above, a context error or the last transient error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("store: %s %s", e.Op, e.URL)
	if e.Attempts > 1 {
		s += fmt.Sprintf(" (%d attempts)", e.Attempts)
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// transient marks an error worth retrying.
type transient struct{ err error }

func (t transient) Error() string { return t.err.Error() }
func (t transient) Unwrap() error { return t.err }

func retryable(err error) error { return transient{err} }

func isTransient(err error) bool {
	var t transient
	return errors.As(err, &t)
}
