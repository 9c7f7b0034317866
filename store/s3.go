package store

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// s3Backend speaks S3 through minio-go's Core client (one HTTP request per
// call; minio-go's own retries are off, Store retries).
type s3Backend struct {
	loc      Location
	c        minio.Core
	endpoint string
}

func newS3(loc Location, o *Options) (backend, error) {
	ep := o.Endpoint
	if ep == "" {
		ep = os.Getenv("AWS_ENDPOINT_URL_S3")
	}
	if ep == "" {
		ep = os.Getenv("AWS_ENDPOINT_URL")
	}
	region := o.Region
	for _, v := range []string{"AWS_REGION", "AWS_DEFAULT_REGION"} {
		if region == "" {
			region = os.Getenv(v)
		}
	}
	if region == "" {
		region = "us-east-1"
	}
	secure := true
	host := "s3.amazonaws.com"
	if ep != "" {
		u, err := url.Parse(ep)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || (u.Path != "" && u.Path != "/") {
			return nil, fmt.Errorf("store: S3 endpoint %q: want http(s)://host[:port] with no path: %w", ep, ErrConfig)
		}
		host, secure = u.Host, u.Scheme == "https"
	}
	pathStyle := o.PathStyle || os.Getenv("PAIRFLOW_S3_PATH_STYLE") == "1"
	var creds *credentials.Credentials
	switch {
	case o.Anonymous:
		creds = credentials.NewStaticV4("", "", "")
	case o.AccessKey != "" || o.SecretKey != "":
		creds = credentials.NewStaticV4(o.AccessKey, o.SecretKey, o.SessionToken)
	default:
		creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{},
			&credentials.FileAWSCredentials{},
		})
		v, err := creds.Get()
		if err != nil || v.AccessKeyID == "" || v.SecretAccessKey == "" {
			return nil, fmt.Errorf("store: %s: no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, ~/.aws/credentials), or ask for anonymous access: %w", loc, ErrConfig)
		}
	}
	lookup := minio.BucketLookupAuto
	if pathStyle {
		lookup = minio.BucketLookupPath
	}
	cl, err := minio.New(host, &minio.Options{
		Creds: creds, Secure: secure, Region: region, BucketLookup: lookup,
		Transport: o.Transport, MaxRetries: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("store: S3 client for %s: %v: %w", loc, err, ErrConfig)
	}
	return &s3Backend{loc: loc, c: minio.Core{Client: cl}, endpoint: host}, nil
}

func (b *s3Backend) host() string { return "s3:" + b.endpoint }

// s3Err classifies a minio-go error.
func s3Err(err error) error {
	if err == nil {
		return nil
	}
	var ne net.Error
	var xe *xml.SyntaxError
	if errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.As(err, &xe) {
		return retryable(err) // an unparsable response is one spoiled in transit
	}
	r := minio.ToErrorResponse(err)
	switch {
	case r.Code == "NoSuchKey" || r.Code == "NoSuchBucket" || r.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%s: %w", describe(r, err), ErrNotFound)
	case r.Code == "PreconditionFailed" || r.StatusCode == http.StatusPreconditionFailed:
		return fmt.Errorf("%s: %w", describe(r, err), ErrExists)
	case r.StatusCode == http.StatusNotModified || r.Code == "NotModified":
		return ErrNotModified
	case r.Code == "SlowDown" || r.Code == "RequestTimeout" || r.Code == "InternalError" ||
		r.Code == "ServiceUnavailable" || r.StatusCode == http.StatusTooManyRequests || r.StatusCode >= 500:
		return retryable(fmt.Errorf("%s", describe(r, err)))
	case r.Code == "AccessDenied" || r.Code == "InvalidAccessKeyId" || r.Code == "SignatureDoesNotMatch" ||
		r.StatusCode == http.StatusForbidden || r.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("%s: %w", describe(r, err), ErrDenied)
	case r.StatusCode == 0 && r.Code == "":
		// Not an S3 error response: a transport failure minio-go did not
		// type as net.Error (connection reset mid-body and the like).
		if strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe") ||
			strings.Contains(err.Error(), "EOF") {
			return retryable(err)
		}
	}
	return err
}

func describe(r minio.ErrorResponse, err error) string {
	if r.Code != "" {
		return fmt.Sprintf("%s (HTTP %d): %s", r.Code, r.StatusCode, r.Message)
	}
	return err.Error()
}

func (b *s3Backend) stat(ctx context.Context, name string) (Info, error) {
	oi, err := b.c.StatObject(ctx, b.loc.Bucket, b.loc.key(name), minio.StatObjectOptions{})
	if err != nil {
		return Info{}, s3Err(err)
	}
	return Info{Name: name, Size: oi.Size, ETag: oi.ETag}, nil
}

func (b *s3Backend) get(ctx context.Context, name string, off, n int64, ifNoneMatch string) (io.ReadCloser, Info, error) {
	var opts minio.GetObjectOptions
	if n > 0 {
		if err := opts.SetRange(off, off+n-1); err != nil {
			return nil, Info{}, err
		}
	} else if off > 0 {
		if err := opts.SetRange(off, 0); err != nil {
			return nil, Info{}, err
		}
	}
	if ifNoneMatch != "" {
		if err := opts.SetMatchETagExcept(ifNoneMatch); err != nil {
			return nil, Info{}, err
		}
	}
	body, oi, _, err := b.c.GetObject(ctx, b.loc.Bucket, b.loc.key(name), opts)
	if err != nil {
		return nil, Info{}, s3Err(err)
	}
	return readCloser{body}, Info{Name: name, Size: oi.Size, ETag: oi.ETag}, nil
}

// readCloser classifies body read errors.
type readCloser struct{ io.ReadCloser }

func (r readCloser) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = s3Err(err)
	}
	return n, err
}

// MaxS3PutBytes is the largest object one S3 PUT may carry (5 GiB).
// pairflow uploads each object in one PUT, never in parts, so Put refuses
// a larger one before sending anything.
const MaxS3PutBytes int64 = 5 << 30

func (b *s3Backend) put(ctx context.Context, name string, r io.Reader, size int64, ifAbsent bool) error {
	if size > MaxS3PutBytes {
		return fmt.Errorf("%d bytes is over S3's 5 GiB limit for one PUT (pairflow does not upload in parts): %w", size, ErrUnsupported)
	}
	var opts minio.PutObjectOptions
	if ifAbsent {
		opts.SetMatchETagExcept("*")
	}
	_, err := b.c.PutObject(ctx, b.loc.Bucket, b.loc.key(name), r, size, "", "", opts)
	return s3Err(err)
}

func (b *s3Backend) list(ctx context.Context) ([]Info, error) {
	prefix := b.loc.Path
	if prefix != "" {
		prefix += "/"
	}
	// ListObjectsIter, not Core.ListObjectsV2: the latter sends its
	// requests under context.Background(), so neither the stall timeout
	// nor Close could end a listing that hangs (a stalled LIST held Open
	// for as long as the server kept it).
	var out []Info
	for o := range b.c.ListObjectsIter(ctx, b.loc.Bucket, minio.ListObjectsOptions{Prefix: prefix}) {
		if o.Err != nil {
			return nil, s3Err(o.Err)
		}
		if strings.HasSuffix(o.Key, "/") {
			continue // a common prefix (a "folder"), or a folder marker object
		}
		out = append(out, Info{Name: strings.TrimPrefix(o.Key, prefix), Size: o.Size, ETag: o.ETag})
	}
	// The iterator ends early, without an error, when ctx is cancelled
	// between pages: a cut listing must not pass for a whole one.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (b *s3Backend) remove(ctx context.Context, name string) error {
	return s3Err(b.c.RemoveObject(ctx, b.loc.Bucket, b.loc.key(name), minio.RemoveObjectOptions{}))
}
