package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// httpBackend reads objects with plain GETs (range GETs for parts), so it
// works with public and presigned URLs and any static file server. It
// cannot write or list.
type httpBackend struct {
	loc    Location
	client *http.Client
}

func (b *httpBackend) host() string { return "http:" + b.loc.URL.Host }

func httpTransportErr(err error) error {
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		strings.Contains(err.Error(), "connection reset") {
		return retryable(err)
	}
	return err
}

func statusErr(resp *http.Response) error {
	msg := fmt.Sprintf("HTTP %s", resp.Status)
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return fmt.Errorf("%s: %w", msg, ErrNotFound)
	case resp.StatusCode == http.StatusNotModified:
		return ErrNotModified
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%s (an expired presigned URL?): %w", msg, ErrDenied)
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
		return retryable(errors.New(msg))
	}
	return errors.New(msg)
}

func (b *httpBackend) do(ctx context.Context, method, name string, hdr http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, b.loc.objectURL(name), nil)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, httpTransportErr(err)
	}
	return resp, nil
}

func (b *httpBackend) stat(ctx context.Context, name string) (Info, error) {
	resp, err := b.do(ctx, http.MethodHead, name, nil)
	if err != nil {
		return Info{}, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Info{}, statusErr(resp)
	}
	if resp.ContentLength < 0 {
		return Info{}, fmt.Errorf("no Content-Length in the HEAD response")
	}
	return Info{Name: name, Size: resp.ContentLength, ETag: resp.Header.Get("ETag")}, nil
}

func (b *httpBackend) get(ctx context.Context, name string, off, n int64, ifNoneMatch string) (io.ReadCloser, Info, error) {
	hdr := http.Header{}
	ranged := off > 0 || n > 0
	if n > 0 {
		hdr.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+n-1))
	} else if off > 0 {
		hdr.Set("Range", fmt.Sprintf("bytes=%d-", off))
	}
	if ifNoneMatch != "" {
		hdr.Set("If-None-Match", ifNoneMatch)
	}
	resp, err := b.do(ctx, http.MethodGet, name, hdr)
	if err != nil {
		return nil, Info{}, err
	}
	info := Info{Name: name, Size: resp.ContentLength, ETag: resp.Header.Get("ETag")}
	switch {
	case resp.StatusCode == http.StatusPartialContent && ranged:
		start, ok := contentRangeStart(resp.Header.Get("Content-Range"))
		if !ok || start != off {
			resp.Body.Close()
			return nil, Info{}, fmt.Errorf("asked for bytes from %d, got Content-Range %q", off, resp.Header.Get("Content-Range"))
		}
	case resp.StatusCode == http.StatusOK:
		if ranged { // the server ignored Range: skip to off ourselves
			if _, err := io.CopyN(io.Discard, resp.Body, off); err != nil {
				resp.Body.Close()
				return nil, Info{}, httpTransportErr(err)
			}
			if info.Size >= 0 {
				info.Size -= off
			}
		}
	default:
		resp.Body.Close()
		return nil, Info{}, statusErr(resp)
	}
	return transportBody{resp.Body}, info, nil
}

// contentRangeStart parses the first byte position of "bytes a-b/n".
func contentRangeStart(s string) (int64, bool) {
	s, ok := strings.CutPrefix(s, "bytes ")
	if !ok {
		return 0, false
	}
	a, _, ok := strings.Cut(s, "-")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(a, 10, 64)
	return v, err == nil && v >= 0
}

type transportBody struct{ io.ReadCloser }

func (r transportBody) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = httpTransportErr(err)
	}
	return n, err
}

func (b *httpBackend) put(context.Context, string, io.Reader, int64, bool) error {
	return fmt.Errorf("HTTP locations are read-only (write to s3:// or a directory): %w", ErrUnsupported)
}

func (b *httpBackend) list(context.Context) ([]Info, error) {
	return nil, fmt.Errorf("HTTP locations cannot be listed: %w", ErrUnsupported)
}

func (b *httpBackend) remove(context.Context, string) error {
	return fmt.Errorf("HTTP locations are read-only: %w", ErrUnsupported)
}
