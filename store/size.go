package store

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ParseBytes parses a byte size: a non-negative integer with an optional
// suffix B, KiB, MiB, GiB, TiB (powers of 1024) or kB, MB, GB, TB (powers of
// 1000), a space allowed before it ("64 KiB"). It is the one size syntax of
// pairflow's flags (--cache-bytes, --shard-size) and of CacheBytesEnv.
func ParseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	num, mult := s, int64(1)
	for _, u := range units {
		if t, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = strings.TrimSpace(t), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("invalid size %q (want an integer with an optional unit such as 64MiB or 50GiB)", s)
	}
	return n * mult, nil
}

// CacheBytesEnv names the environment variable that sets a cache's size
// limit where no limit is given: a size in ParseBytes' syntax ("50GiB").
const CacheBytesEnv = "PAIRFLOW_CACHE_BYTES"

// CacheBytesFromEnv returns the limit CacheBytesEnv sets, or 0 when it is
// unset or empty. A value that is not a positive size is an error wrapping
// ErrConfig.
func CacheBytesFromEnv() (int64, error) {
	v := os.Getenv(CacheBytesEnv)
	if v == "" {
		return 0, nil
	}
	n, err := ParseBytes(strings.TrimSpace(v))
	if err == nil && n == 0 {
		err = fmt.Errorf("a cache limit of 0 bytes")
	}
	if err != nil {
		return 0, fmt.Errorf("store: %s=%q: %v: %w", CacheBytesEnv, v, err, ErrConfig)
	}
	return n, nil
}
