package store

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func FuzzParseLocation(f *testing.F) {
	for _, s := range []string{"data/train", "/abs/dir", "file:///tmp/x", "s3://bucket/a/b", "s3://bucket",
		"s3://b/../x", "https://host:8443/p/q?X-Amz-Signature=abc", "http://u:p@h/x", "gs://b/x", "s3://", "https://h/p#f", "S3://bucket/x/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLocation(s)
		if err != nil {
			return
		}
		switch l.Scheme {
		case S3:
			if !validBucket(l.Bucket) || strings.HasPrefix(l.Path, "/") || strings.HasSuffix(l.Path, "/") || checkSegments(l.Path) != nil {
				t.Fatalf("%q: bad S3 location %+v", s, l)
			}
			// The printed form parses back to the same location.
			l2, err := ParseLocation(l.String())
			if err != nil || l2.Bucket != l.Bucket || l2.Path != l.Path {
				t.Fatalf("%q: %q does not round-trip: %+v %v", s, l.String(), l2, err)
			}
			if k := l.key("index.json"); !strings.HasSuffix(k, "index.json") || strings.HasPrefix(k, "/") {
				t.Fatalf("%q: key %q", s, k)
			}
		case HTTP:
			if l.URL == nil || l.URL.Host == "" || l.URL.User != nil {
				t.Fatalf("%q: bad HTTP location %+v", s, l)
			}
			if strings.Contains(l.String(), "?") {
				t.Fatalf("%q: query string in the printed form %q", s, l.String())
			}
			_ = l.objectURL("index.json")
		case Local:
			if l.Path == "" {
				t.Fatalf("%q: empty local path", s)
			}
		default:
			t.Fatalf("%q: scheme %q", s, l.Scheme)
		}
		if IsRemote(s) != (l.Scheme != Local) {
			t.Fatalf("%q: IsRemote %v, scheme %s", s, IsRemote(s), l.Scheme)
		}
	})
}

func FuzzManifestEntry(f *testing.F) {
	good, _ := json.Marshal(manifestEntry{URL: "s3://b/x/index.json", ETag: "abc", Body: []byte(`{"format":"pairflow-shards"}`)})
	f.Add(good)
	f.Add([]byte(`{"url":"u","etag":"e","body":"AAAA"} {}`))
	f.Add([]byte(`{"url":"u","etag":"e","body":"AAAA","x":1}`))
	f.Add([]byte(`{"url":"u","etag":"","body":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := parseManifestEntry(b)
		if err != nil {
			return
		}
		if e.URL == "" || e.ETag == "" {
			t.Fatalf("accepted an entry without URL or ETag: %+v", e)
		}
		b2, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		e2, err := parseManifestEntry(b2)
		if err != nil || e2.URL != e.URL || e2.ETag != e.ETag || !bytes.Equal(e2.Body, e.Body) {
			t.Fatalf("round trip: %+v %v", e2, err)
		}
	})
}

func FuzzContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-9/10", "bytes 5-", "bytes -1-2/3", "items 1-2/3", "bytes 99999999999999999999-1/2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v, ok := contentRangeStart(s); ok && (v < 0 || !strings.HasPrefix(s, "bytes ")) {
			t.Fatalf("%q: %d", s, v)
		}
	})
}
