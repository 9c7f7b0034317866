package source

import (
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"os"
)

// Input is one input file (or, with Files > 0, a directory tree) and its
// SHA-256: the packer records them in the manifest for provenance.
type Input struct {
	// Path is relative to the input: a base name for file inputs, "." for
	// an ImageFolder tree.
	Path string
	// Files, for a tree, counts its files; SHA256 is then the digest of
	// their sha256sum listing ("<hex>  <path>\n" each, in reading order).
	Files  int64
	Bytes  int64
	SHA256 [sha256.Size]byte
}

// HashFile returns the SHA-256 and the length of the file at p: what Inputs
// records of a file that is not parsed as it is hashed (and what verify
// --inputs checks against).
func HashFile(p string) ([sha256.Size]byte, int64, error) {
	var sum [sha256.Size]byte
	f, err := os.Open(p)
	if err != nil {
		return sum, 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return sum, 0, err
	}
	h.Sum(sum[:0])
	return sum, n, nil
}

// hashFile reads a file through a SHA-256, so that the digest covers what
// was parsed; finish reads what is left (the digest covers the whole file).
type hashFile struct {
	f    *os.File
	name string
	h    hash.Hash
	n    int64
}

func openHashed(p, name string) (*hashFile, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	return &hashFile{f: f, name: name, h: sha256.New()}, nil
}

func (x *hashFile) Read(b []byte) (int, error) {
	n, err := x.f.Read(b)
	x.h.Write(b[:n])
	x.n += int64(n)
	return n, err
}

// finish hashes the rest of the file and returns its Input.
func (x *hashFile) finish() (Input, error) {
	if _, err := io.Copy(io.Discard, x); err != nil {
		return Input{}, fmt.Errorf("%s: %w", x.name, err)
	}
	in := Input{Path: x.name, Bytes: x.n}
	x.h.Sum(in.SHA256[:0])
	return in, nil
}

func (x *hashFile) Close() error { return x.f.Close() }

// errTap remembers the first error other than io.EOF that its reader
// returned: a gzip stream's errors (bad data, bad trailer, cut) are told
// apart from the errors of the format read through it.
type errTap struct {
	r   io.Reader
	err error
}

func (t *errTap) Read(b []byte) (int, error) {
	n, err := t.r.Read(b)
	if err != nil && err != io.EOF && t.err == nil {
		t.err = err
	}
	return n, err
}

// gzipEnd reads a gzip stream to its end: the reader checks the CRC-32 and
// length in each member's trailer only there, and bytes after the last
// member that are not another member are an error. Decompressed bytes that
// the format did not consume are trailing garbage.
func gzipEnd(r io.Reader) error {
	var b [1]byte
	n, err := io.ReadFull(r, b[:])
	if n > 0 {
		extra, _ := io.Copy(io.Discard, r)
		return fmt.Errorf("%w: %d trailing bytes after the data", ErrFormat, extra+1)
	}
	if err != io.EOF {
		return fmt.Errorf("gzip: %w", err)
	}
	return nil
}

var errNotEnded = fmt.Errorf("source: Inputs called before the input was read to its end")
