package store

import (
	"errors"
	"strconv"
	"testing"
)

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "4096": 4096, "256MiB": 256 << 20, "64 KiB": 64 << 10,
		"4GiB": 4 << 30, "1GB": 1e9, "2kB": 2000, "3KB": 3000, "5TiB": 5 << 40, "7B": 7} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GiB", "-1", "-1GiB", "1.5GiB", "4gib", "4 GiB B", "9999999999TiB", "0x10", " 4"} {
		if got, err := ParseBytes(in); err == nil {
			t.Errorf("ParseBytes(%q) = %d, want an error", in, got)
		}
	}
}

func TestCacheBytesFromEnv(t *testing.T) {
	for v, want := range map[string]int64{"": 0, "4GiB": 4 << 30, "1048576": 1 << 20, " 50GiB ": 50 << 30} {
		t.Setenv(CacheBytesEnv, v)
		if got, err := CacheBytesFromEnv(); err != nil || got != want {
			t.Errorf("%s=%q: %d, %v; want %d", CacheBytesEnv, v, got, err, want)
		}
	}
	for _, v := range []string{"0", "-1", "lots", "4 gigs"} {
		t.Setenv(CacheBytesEnv, v)
		if _, err := CacheBytesFromEnv(); !errors.Is(err, ErrConfig) {
			t.Errorf("%s=%q: %v, want ErrConfig", CacheBytesEnv, v, err)
		}
	}
}

// FuzzParseBytes: no panic, never a negative size, and a plain integer
// reads back as itself.
func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"4096", "64 KiB", "4GiB", "1GB", "-1", "9223372036854775807", "4611686018427387904B", "4TiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseBytes(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("ParseBytes(%q) = %d", s, n)
		}
		if i, perr := strconv.ParseInt(s, 10, 64); perr == nil && i != n {
			t.Fatalf("ParseBytes(%q) = %d, the integer is %d", s, n, i)
		}
	})
}
