package store

import (
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"strings"
)

// Scheme says which backend a Location names.
type Scheme string

// Schemes Open understands.
const (
	Local Scheme = "file"  // a local directory
	S3    Scheme = "s3"    // s3://bucket/prefix
	HTTP  Scheme = "https" // https:// or http:// (read only)
)

// Location is a parsed dataset location: a local directory, an S3 bucket and
// key prefix, or an HTTP(S) base URL. Objects live directly under it
// ("<location>/<name>").
type Location struct {
	Scheme Scheme
	// Path is the directory for Local; the key prefix (no leading or
	// trailing slash, may be empty) for S3; the URL path for HTTP.
	Path string
	// Bucket is the S3 bucket.
	Bucket string
	// URL is the base URL for HTTP (its path is Path; a query string such
	// as a shared-access token is kept and sent with every request).
	URL *url.URL
}

// IsRemote reports whether s names a remote location (it has a scheme other
// than file://). A plain path, absolute or relative, is local.
func IsRemote(s string) bool {
	i := strings.Index(s, "://")
	return i > 0 && !strings.EqualFold(s[:i], "file")
}

// maxLocation bounds the length of a location string.
const maxLocation = 4096

// ParseLocation parses a path or URL: a plain path or file:// URL is Local;
// s3://bucket[/prefix] is S3; https://host/path and http://host/path are
// HTTP. An unknown scheme, an invalid bucket name, a URL with user
// information, a fragment, or ".." path segments is an error wrapping
// ErrLocation.
func ParseLocation(s string) (Location, error) {
	if len(s) > maxLocation {
		return Location{}, fmt.Errorf("store: location of %d bytes is longer than %d: %w", len(s), maxLocation, ErrLocation)
	}
	if s == "" {
		return Location{}, fmt.Errorf("store: empty location: %w", ErrLocation)
	}
	if strings.ContainsAny(s, "\x00") {
		return Location{}, fmt.Errorf("store: location %q holds a NUL byte: %w", s, ErrLocation)
	}
	i := strings.Index(s, "://")
	if i <= 0 {
		return Location{Scheme: Local, Path: filepath.Clean(s)}, nil
	}
	scheme := strings.ToLower(s[:i])
	switch scheme {
	case "file":
		p := s[i+3:]
		if p == "" {
			return Location{}, fmt.Errorf("store: %q names no directory: %w", s, ErrLocation)
		}
		return Location{Scheme: Local, Path: filepath.Clean(filepath.FromSlash(p))}, nil
	case "s3":
		rest := s[i+3:]
		bucket, prefix, _ := strings.Cut(rest, "/")
		if !validBucket(bucket) {
			return Location{}, fmt.Errorf("store: %q: bucket name %q is not a valid S3 bucket name (3-63 of a-z 0-9 . -): %w", s, bucket, ErrLocation)
		}
		if strings.ContainsAny(prefix, "?#") {
			return Location{}, fmt.Errorf("store: %q: S3 keys here may not hold '?' or '#': %w", s, ErrLocation)
		}
		prefix = strings.Trim(prefix, "/")
		if err := checkSegments(prefix); err != nil {
			return Location{}, fmt.Errorf("store: %q: %v: %w", s, err, ErrLocation)
		}
		return Location{Scheme: S3, Bucket: bucket, Path: prefix}, nil
	case "https", "http":
		u, err := url.Parse(s)
		if err != nil {
			return Location{}, fmt.Errorf("store: %q: %v: %w", s, err, ErrLocation)
		}
		switch {
		case u.Host == "":
			return Location{}, fmt.Errorf("store: %q names no host: %w", s, ErrLocation)
		case u.User != nil:
			return Location{}, fmt.Errorf("store: %q: user information in the URL is not supported (use a presigned or public URL): %w", redact(u), ErrLocation)
		case u.Fragment != "" || strings.Contains(s, "#"):
			return Location{}, fmt.Errorf("store: %q: a URL fragment is not allowed: %w", redact(u), ErrLocation)
		}
		p := strings.TrimSuffix(u.Path, "/")
		if err := checkSegments(strings.TrimPrefix(p, "/")); err != nil {
			return Location{}, fmt.Errorf("store: %q: %v: %w", redact(u), err, ErrLocation)
		}
		u.Path, u.RawPath = p, ""
		return Location{Scheme: HTTP, Path: p, URL: u}, nil
	default:
		return Location{}, fmt.Errorf("store: %q: unknown scheme %q (want a path, file://, s3://, https:// or http://): %w", s, scheme, ErrLocation)
	}
}

// checkSegments refuses empty, "." and ".." segments in a slash path.
func checkSegments(p string) error {
	if p == "" {
		return nil
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("path segment %q is not allowed", seg)
		}
	}
	return nil
}

// validBucket follows S3's bucket naming rules (3-63 characters of lower-case
// letters, digits, dots and hyphens, starting and ending with a letter or
// digit, no "..").
func validBucket(b string) bool {
	if len(b) < 3 || len(b) > 63 || strings.Contains(b, "..") {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (c != '.' && c != '-' || i == 0 || i == len(b)-1) {
			return false
		}
	}
	return true
}

// String returns the location as a URL (s3://bucket/prefix, the HTTP URL
// without its query string, or the directory).
func (l Location) String() string {
	switch l.Scheme {
	case S3:
		if l.Path == "" {
			return "s3://" + l.Bucket
		}
		return "s3://" + l.Bucket + "/" + l.Path
	case HTTP:
		return redact(l.URL)
	default:
		return l.Path
	}
}

// Object returns the URL (or path) of object name under l, for messages.
func (l Location) Object(name string) string {
	switch l.Scheme {
	case Local:
		return filepath.Join(l.Path, name)
	default:
		return strings.TrimSuffix(l.String(), "/") + "/" + name
	}
}

// key returns the S3 key of object name.
func (l Location) key(name string) string {
	if l.Path == "" {
		return name
	}
	return l.Path + "/" + name
}

// objectURL returns the full HTTP URL of object name, query kept.
func (l Location) objectURL(name string) string {
	u := *l.URL
	u.Path = path.Join(l.Path, name)
	if !strings.HasPrefix(u.Path, "/") {
		u.Path = "/" + u.Path
	}
	return u.String()
}

// redact drops the query string (it may hold a signature) from u for messages.
func redact(u *url.URL) string {
	c := *u
	c.RawQuery, c.ForceQuery, c.User = "", false, nil
	return c.String()
}

// validName reports whether name is a plain object name: no slash, not "."
// or "..", no NUL, at most 255 bytes.
func validName(name string) bool {
	return name != "" && name != "." && name != ".." && len(name) <= 255 && !strings.ContainsAny(name, "/\\\x00")
}
