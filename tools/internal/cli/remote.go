package cli

import (
	"flag"
	"fmt"
	"strings"

	"github.com/pairflow/pairflow/shards"
	"github.com/pairflow/pairflow/store"
)

// Remote holds the object-storage flags of the commands that read or
// write splits: with them (or the standard AWS environment variables
// alone) any --data, --in or --out that takes a split directory also takes
// s3://bucket/prefix/split or https://host/path/split.
type Remote struct {
	endpoint, region, cacheDir, cacheBytes, access string
	pathStyle, anonymous                           bool
}

// Register adds --s3-endpoint, --s3-region, --s3-path-style,
// --s3-anonymous, --cache-dir, --cache-bytes and --access to fs.
func (r *Remote) Register(fs *flag.FlagSet) {
	fs.StringVar(&r.endpoint, "s3-endpoint", "", "S3-compatible endpoint URL for s3:// splits (default $AWS_ENDPOINT_URL, else Amazon S3)")
	fs.StringVar(&r.region, "s3-region", "", "S3 region (default $AWS_REGION, else us-east-1)")
	fs.BoolVar(&r.pathStyle, "s3-path-style", false, "address buckets as ENDPOINT/BUCKET (MinIO, Ceph); also $PAIRFLOW_S3_PATH_STYLE=1")
	fs.BoolVar(&r.anonymous, "s3-anonymous", false, "send unsigned S3 requests (public buckets); otherwise credentials come from $AWS_ACCESS_KEY_ID/$AWS_SECRET_ACCESS_KEY or ~/.aws/credentials")
	fs.StringVar(&r.cacheDir, "cache-dir", "", "shard cache for remote splits, shareable by several processes (default $PAIRFLOW_CACHE_DIR, else the user cache directory)")
	fs.StringVar(&r.cacheBytes, "cache-bytes", "", "cache size limit, least recently used shards evicted (e.g. 50GiB; default $PAIRFLOW_CACHE_BYTES, else 64GiB)")
	fs.StringVar(&r.access, "access", "whole", "how remote shards are read: whole (fetched into the cache, SHA-256 checked) or range (range reads, CRC checked)")
}

// StoreOptions returns the client options the flags give.
func (r *Remote) StoreOptions() store.Options {
	return store.Options{Endpoint: r.endpoint, Region: r.region, PathStyle: r.pathStyle, Anonymous: r.anonymous}
}

// OpenOptions returns the shards.Open options the flags give, or an error
// wrapping ErrUsage.
func (r *Remote) OpenOptions() (shards.OpenOptions, error) {
	o := shards.OpenOptions{Store: r.StoreOptions(), CacheDir: r.cacheDir}
	switch r.access {
	case "", "whole":
	case "range":
		o.Access = shards.AccessRange
	default:
		return o, fmt.Errorf("%w: --access %q: want whole or range", ErrUsage, r.access)
	}
	if r.cacheBytes != "" {
		n, err := store.ParseBytes(strings.TrimSpace(r.cacheBytes)) // as --shard-size and PAIRFLOW_CACHE_BYTES
		if err != nil || n <= 0 {
			return o, fmt.Errorf("%w: --cache-bytes %q: want a size such as 50GiB", ErrUsage, r.cacheBytes)
		}
		o.CacheBytes = n
	}
	return o, nil
}

// Args returns the flags, in Register's names, that reproduce r's settings
// on another process's command line (a benchmark's child, say); flags left
// at their defaults are omitted.
func (r *Remote) Args() []string {
	var a []string
	for _, f := range []struct{ name, v string }{
		{"s3-endpoint", r.endpoint}, {"s3-region", r.region}, {"cache-dir", r.cacheDir},
		{"cache-bytes", r.cacheBytes}, {"access", r.access},
	} {
		if f.v != "" && !(f.name == "access" && f.v == "whole") {
			a = append(a, "--"+f.name+"="+f.v)
		}
	}
	if r.pathStyle {
		a = append(a, "--s3-path-style")
	}
	if r.anonymous {
		a = append(a, "--s3-anonymous")
	}
	return a
}
