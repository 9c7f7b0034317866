package source_test

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/pairflow/pairflow/tools/shardify/internal/fixture"
	"github.com/pairflow/pairflow/tools/shardify/internal/source"
)

// drain reads s to the end; it must neither panic nor loop forever.
func drain(t *testing.T, s source.Source) {
	for i := 0; i < 1<<16; i++ {
		if _, err := s.Next(); err != nil {
			return
		}
	}
	t.Fatal("source did not end")
}

func fuzzFile(f *testing.F, name, format string, seeds ...[]byte) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := source.Open(p, format, source.Options{MaxFileBytes: 1 << 16})
		if err != nil {
			return
		}
		defer s.Close()
		drain(t, s)
	})
}

func seedFile(f *testing.F, write func(dir string) string) []byte {
	dir := f.TempDir()
	b, err := os.ReadFile(write(dir))
	if err != nil {
		f.Fatal(err)
	}
	return b
}

func FuzzIDX(f *testing.F) {
	plain := seedFile(f, func(d string) string { p, _ := fixture.IDX(d, "a", 3, 4, 4, false); return p })
	gz := seedFile(f, func(d string) string { p, _ := fixture.IDX(d, "a", 3, 4, 4, true); return p })
	badTrailer := append([]byte(nil), gz...)
	badTrailer[len(badTrailer)-8] ^= 1
	fuzzFile(f, "a-images-idx3-ubyte", "idx", plain, gz, badTrailer, append(append([]byte(nil), plain...), 9), append(append([]byte(nil), gz...), 0x1f, 0x8b),
		[]byte{0, 0, 8, 4, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 3, 1, 2, 3})
}

func FuzzCIFAR(f *testing.F) {
	c10 := seedFile(f, func(d string) string { p := filepath.Join(d, "x.bin"); fixture.CIFAR10(p, 2, 0); return p })
	c100 := seedFile(f, func(d string) string { p := filepath.Join(d, "x.bin"); fixture.CIFAR100(p, 2, 0); return p })
	fuzzFile(f, "x.bin", "cifar", c10, c100)
}

func FuzzWebDataset(f *testing.F) {
	t := seedFile(f, func(d string) string {
		p := filepath.Join(d, "a.tar")
		fixture.Tar(p, []fixture.Member{{Name: "k.png", Data: fixture.PNG(fixture.Pixels(0, 2, 2, 1))}, {Name: "k.cls", Data: []byte("1")}, {Name: "k.json", Data: []byte(`{"label":2}`)}})
		return p
	})
	tgz := gz(t)
	bad := append([]byte(nil), tgz...)
	bad[len(bad)-6] ^= 1
	fuzzFile(f, "a.tar", "wds", t, tgz, bad)
}

func FuzzParseJSONLabel(f *testing.F) {
	for _, s := range []string{`{"label": 3}`, `{"cls": -1}`, `{}`, `[1]`, `{"label": "3"}`, `{"label": 1e3}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		source.ParseJSONLabel(b)
		source.ParseCls(b)
	})
}

var _ = io.EOF
