package shards

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one of them; test with
// errors.Is. Problems found inside a shard file come as an *Error.
var (
	// ErrChecksum: a CRC-32C or SHA-256 does not match the data.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrTruncated: a file ends before a structure it must contain.
	ErrTruncated = errors.New("truncated")
	// ErrVersion: a shard or manifest has a format version this reader does not know.
	ErrVersion = errors.New("unknown format version")
	// ErrCorrupt: a structure is malformed or a length is out of bounds.
	ErrCorrupt = errors.New("corrupt")
	// ErrManifest: index.json is missing, malformed or does not match the shard files.
	ErrManifest = errors.New("manifest mismatch")
	// ErrInvalid: the caller passed an invalid Record, option or argument.
	ErrInvalid = errors.New("invalid argument")
	// ErrDuplicateKey: Append was given a key already in the split.
	ErrDuplicateKey = errors.New("duplicate key")
	// ErrNotRaw: pixels were asked of a record whose encoding is not raw.
	ErrNotRaw = errors.New("record is not raw-encoded")
	// ErrClosed: the Writer or Dataset was already closed.
	ErrClosed = errors.New("closed")
	// ErrExists: Create found a dataset at its s3:// destination (see
	// WriterOptions.Overwrite), or one appeared there while it wrote.
	ErrExists = errors.New("dataset already exists")
)

// Error describes a problem found in a shard file. Path is the shard file name
// (as listed in the manifest, or the name given to NewReader/OpenShard),
// Record the record's index within the shard or -1, Offset the byte offset of
// the structure at fault or -1. Err is one of the sentinel errors.
type Error struct {
	Path   string
	Record int
	Offset int64
	Msg    string
	Err    error
}

func (e *Error) Error() string {
	s := "shards: "
	if e.Path != "" {
		s += e.Path
	} else {
		s += "shard"
	}
	if e.Record >= 0 {
		s += fmt.Sprintf(" record %d", e.Record)
	}
	if e.Offset >= 0 {
		s += fmt.Sprintf(" at offset %d", e.Offset)
	}
	return s + ": " + e.Msg
}

// Unwrap returns the sentinel error.
func (e *Error) Unwrap() error { return e.Err }

func newErr(path string, rec int, off int64, sentinel error, format string, args ...any) *Error {
	return &Error{Path: path, Record: rec, Offset: off, Msg: fmt.Sprintf(format, args...), Err: sentinel}
}

// ErrLocked: another Writer holds the directory's lock (see LockName).
var ErrLocked = errors.New("directory locked by another writer")
