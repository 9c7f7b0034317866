package source_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pairflow/pairflow/tools/shardify/internal/fixture"
	"github.com/pairflow/pairflow/tools/shardify/internal/source"
)

func all(t *testing.T, s source.Source) []source.Item {
	t.Helper()
	var out []source.Item
	for {
		it, err := s.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, it)
	}
}

func TestCIFAR10(t *testing.T) {
	dir := t.TempDir()
	for b := 1; b <= 2; b++ {
		if err := fixture.CIFAR10(filepath.Join(dir, fmt.Sprintf("data_batch_%d.bin", b)), 15, b*100); err != nil {
			t.Fatal(err)
		}
	}
	if err := fixture.CIFAR10(filepath.Join(dir, "test_batch.bin"), 7, 900); err != nil {
		t.Fatal(err)
	}
	names := "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n"
	os.WriteFile(filepath.Join(dir, "batches.meta.txt"), []byte(names), 0o644)
	if f, _ := source.Detect(dir); f != "cifar" {
		t.Fatalf("Detect = %q", f)
	}
	s, err := source.Open(dir, "auto", source.Options{PartialCIFAR: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Len() != 30 || len(s.Classes()) != 10 || s.Classes()[9] != "truck" {
		t.Fatalf("Len %d classes %q", s.Len(), s.Classes())
	}
	items := all(t, s)
	if len(items) != 30 {
		t.Fatalf("%d items", len(items))
	}
	it := items[17] // batch 2, record 2
	want := fixture.Pixels(200+2, 32, 32, 3)
	if it.Key != "data_batch_2/00002" || it.Label != 2 || !it.HasLabel || !bytes.Equal(it.Raw.Pix, want.Pix) {
		t.Fatalf("item 17: key %q label %d pixels equal %v", it.Key, it.Label, bytes.Equal(it.Raw.Pix, want.Pix))
	}
	ts, err := source.Open(dir, "cifar", source.Options{Split: "test", PartialCIFAR: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := all(t, ts); len(got) != 7 || got[0].Key != "test_batch/00000" {
		t.Fatalf("test split: %d items", len(got))
	}
}

func TestCIFAR100(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "train.bin")
	if err := fixture.CIFAR100(p, 120, 0); err != nil {
		t.Fatal(err)
	}
	s, err := source.Open(p, "auto", source.Options{PartialCIFAR: true})
	if err != nil {
		t.Fatal(err)
	}
	items := all(t, s)
	it := items[105]
	if len(items) != 120 || it.Label != 5 || string(it.Meta) != `{"coarse_label":5}` ||
		!bytes.Equal(it.Raw.Pix, fixture.Pixels(105, 32, 32, 3).Pix) {
		t.Fatalf("item 105: %+v", it)
	}
}

func TestCIFARBad(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "data_batch_1.bin")
	fixture.CIFAR10(p, 3, 0)
	b, _ := os.ReadFile(p)
	os.WriteFile(p, b[:len(b)-5], 0o644) // not a whole number of records
	if _, err := source.Open(p, "cifar", source.Options{}); !errors.Is(err, source.ErrFormat) || !strings.Contains(err.Error(), "data_batch_1.bin") {
		t.Fatalf("truncated batch: %v", err)
	}
	b[cifarRec] = 42 // record 1 label out of range
	os.WriteFile(p, b, 0o644)
	s, err := source.Open(p, "cifar", source.Options{PartialCIFAR: true})
	if err != nil {
		t.Fatal(err)
	}
	items := all(t, s)
	if items[1].Skip == "" || items[0].Skip != "" || items[1].Path != "data_batch_1.bin[1]" {
		t.Fatalf("bad label not skipped: %+v", items[1].Skip)
	}
	empty := filepath.Join(dir, "data_batch_2.bin")
	os.WriteFile(empty, nil, 0o644)
	if _, err := source.Open(empty, "cifar", source.Options{}); err == nil {
		t.Fatal("empty batch accepted")
	}
}

const cifarRec = 3073

func TestIDX(t *testing.T) {
	for _, gz := range []bool{false, true} {
		dir := t.TempDir()
		p, err := fixture.IDX(dir, "train", 25, 7, 5, gz)
		if err != nil {
			t.Fatal(err)
		}
		s, err := source.Open(p, "auto", source.Options{})
		if err != nil {
			t.Fatal(err)
		}
		items := all(t, s)
		s.Close()
		if len(items) != 25 || items[13].Key != "13" || items[13].Label != 3 || items[13].Raw.W != 7 || items[13].Raw.H != 5 ||
			!bytes.Equal(items[13].Raw.Pix, fixture.Pixels(13, 7, 5, 1).Pix) {
			t.Fatalf("gz=%v: item 13 %+v", gz, items[13])
		}
	}
}

func TestIDXBad(t *testing.T) {
	dir := t.TempDir()
	p, _ := fixture.IDX(dir, "t10k", 4, 3, 3, false)
	b, _ := os.ReadFile(p)
	cases := map[string][]byte{
		"magic":     append([]byte{0, 0, 9, 3}, b[4:]...),
		"truncated": b[:len(b)-4],
		"huge":      append([]byte{0, 0, 8, 3, 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff}, 1, 2, 3),
		"header":    b[:7],
	}
	for name, data := range cases {
		os.WriteFile(p, data, 0o644)
		s, err := source.Open(p, "idx", source.Options{})
		if err == nil {
			_, err = s.Next()
			for err == nil {
				_, err = s.Next()
			}
			if err == io.EOF {
				err = nil
			}
		}
		if err == nil || !strings.Contains(err.Error(), "t10k-images-idx3-ubyte") {
			t.Errorf("%s: err %v", name, err)
		}
	}
	// Labels count must match.
	p, _ = fixture.IDX(dir, "x", 4, 3, 3, false)
	fixture.IDX(t.TempDir(), "x", 5, 3, 3, false)
	lb := filepath.Join(dir, "x-labels-idx1-ubyte")
	os.WriteFile(lb, []byte{0, 0, 8, 1, 0, 0, 0, 5, 1, 2, 3, 4, 5}, 0o644)
	if _, err := source.Open(p, "idx", source.Options{}); err == nil || !strings.Contains(err.Error(), "labels") {
		t.Errorf("label count mismatch: %v", err)
	}
}

func sampleTar(t *testing.T, path string, from, to int) {
	t.Helper()
	var ms []fixture.Member
	for i := from; i < to; i++ {
		key := fmt.Sprintf("s/%06d", i)
		ms = append(ms, fixture.Member{Name: key + ".png", Data: fixture.PNG(fixture.Pixels(i, 6, 4, 3))},
			fixture.Member{Name: key + ".cls", Data: []byte(fmt.Sprintf(" %d\n", i%10))},
			fixture.Member{Name: key + ".txt", Data: []byte("a caption")})
	}
	if err := fixture.Tar(path, ms); err != nil {
		t.Fatal(err)
	}
}

func TestWebDataset(t *testing.T) {
	dir := t.TempDir()
	for k := 0; k < 3; k++ {
		sampleTar(t, filepath.Join(dir, fmt.Sprintf("shard-%03d.tar", k)), k*4, k*4+4)
	}
	for _, in := range []string{dir, filepath.Join(dir, "shard-{000..002}.tar"), filepath.Join(dir, "shard-{000,001,002}.tar")} {
		s, err := source.Open(in, "auto", source.Options{})
		if err != nil {
			t.Fatal(err)
		}
		items := all(t, s)
		s.Close()
		if len(items) != 12 {
			t.Fatalf("%s: %d items", in, len(items))
		}
		for i, it := range items {
			if it.Key != fmt.Sprintf("s/%06d", i) || it.Label != int32(i%10) || !it.HasLabel || it.Ext != "png" || it.Skip != "" ||
				!bytes.Equal(it.Data, fixture.PNG(fixture.Pixels(i, 6, 4, 3))) {
				t.Fatalf("%s item %d: %+v", in, i, it)
			}
		}
	}
}

func TestWebDatasetBad(t *testing.T) {
	dir := t.TempDir()
	img := fixture.PNG(fixture.Pixels(1, 4, 4, 1))
	p := filepath.Join(dir, "a.tar")
	fixture.Tar(p, []fixture.Member{
		{Name: "ok.jpg", Data: img}, {Name: "ok.json", Data: []byte(`{"label": 7, "caption": "x"}`)},
		{Name: "nolabel.webp", Data: img}, {Name: "nolabel.json", Data: []byte(`{"caption": "y"}`)},
		{Name: "noimage.cls", Data: []byte("3")}, {Name: "noimage.txt", Data: []byte("t")},
		{Name: "badcls.png", Data: img}, {Name: "badcls.cls", Data: []byte("three")},
		{Name: "badjson.png", Data: img}, {Name: "badjson.json", Data: []byte(`{"label": `)},
		{Name: "floatlabel.png", Data: img}, {Name: "floatlabel.json", Data: []byte(`{"label": 1.5}`)},
		{Name: "empty.png", Data: nil},
		{Name: "ok.png", Data: img}, // duplicate key
		{Name: "multi.part.jpeg", Data: img}, {Name: "multi.part.cls", Data: []byte("1")}, {Name: "multi.cls", Data: []byte("2")},
	})
	s, err := source.Open(p, "wds", source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	items := all(t, s)
	got := map[string]string{}
	var keys []string
	for _, it := range items {
		keys = append(keys, it.Key)
		got[it.Key] = it.Skip
	}
	want := []string{"ok", "nolabel", "noimage", "badcls", "badjson", "floatlabel", "empty", "ok", "multi"}
	if !reflect.DeepEqual(keys, want) {
		t.Fatalf("keys %q, want %q", keys, want)
	}
	if items[0].Skip != "" || items[0].Label != 7 || !items[0].HasLabel || string(items[0].Meta) != `{"label":7,"caption":"x"}` {
		t.Errorf("ok: %+v", items[0])
	}
	if items[1].Skip != "" || items[1].HasLabel || items[1].Ext != "webp" {
		t.Errorf("nolabel: %+v", items[1])
	}
	for i, frag := range map[int]string{2: "no image", 3: "not an integer", 4: "not a JSON object", 5: "not an integer", 6: "empty", 7: "duplicate"} {
		if !strings.Contains(items[i].Skip, frag) {
			t.Errorf("%s: skip %q, want %q", items[i].Key, items[i].Skip, frag)
		}
	}
	// multi.part.jpeg, multi.part.cls and multi.cls share the key "multi"
	// (first-dot rule); "part.jpeg" is not an image extension.
	if !strings.Contains(items[8].Skip, "no image member (has .cls .part.cls .part.jpeg)") {
		t.Errorf("multi: %+v", items[8])
	}
}

func TestWebDatasetTruncated(t *testing.T) {
	dir := t.TempDir()
	sampleTar(t, filepath.Join(dir, "a-000.tar"), 0, 5)
	sampleTar(t, filepath.Join(dir, "a-001.tar"), 5, 8)
	b, _ := os.ReadFile(filepath.Join(dir, "a-000.tar"))
	os.WriteFile(filepath.Join(dir, "a-000.tar"), b[:len(b)/2], 0o644)
	s, err := source.Open(dir, "wds", source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	items := all(t, s)
	var ok, skipped int
	var reason string
	for _, it := range items {
		if it.Skip == "" {
			ok++
		} else {
			skipped++
			reason = it.Path + ": " + it.Skip
		}
	}
	if skipped != 1 || ok < 3+1 || ok > 3+4 || !strings.Contains(reason, "a-000.tar") {
		t.Fatalf("ok %d skipped %d (%s)", ok, skipped, reason)
	}
	if items[len(items)-1].Key != "s/000007" {
		t.Fatalf("next tar not read: last %q", items[len(items)-1].Key)
	}
}

func TestImageFolder(t *testing.T) {
	dir := t.TempDir()
	fixture.WriteFile(dir, "b_dog/x/2.png", fixture.PNG(fixture.Pixels(2, 3, 3, 1)))
	fixture.WriteFile(dir, "b_dog/1.png", fixture.PNG(fixture.Pixels(1, 3, 3, 1)))
	fixture.WriteFile(dir, "a_cat/9.jpg", fixture.JPEG(fixture.Pixels(9, 3, 3, 3)))
	fixture.WriteFile(dir, "a_cat/.DS_Store", []byte("junk"))
	fixture.WriteFile(dir, "a_cat/empty.png", nil)
	fixture.WriteFile(dir, "README.txt", []byte("top-level files are ignored"))
	os.Mkdir(filepath.Join(dir, "c_empty"), 0o755)
	s, err := source.Open(dir, "auto", source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.Classes(), []string{"a_cat", "b_dog", "c_empty"}) || s.Len() != 4 {
		t.Fatalf("classes %q len %d", s.Classes(), s.Len())
	}
	items := all(t, s)
	var keys []string
	for _, it := range items {
		keys = append(keys, fmt.Sprintf("%s:%d:%v", it.Key, it.Label, it.Skip != ""))
	}
	want := []string{"a_cat/9.jpg:0:false", "a_cat/empty.png:0:true", "b_dog/1.png:1:false", "b_dog/x/2.png:1:false"}
	if !reflect.DeepEqual(keys, want) {
		t.Fatalf("got %q, want %q", keys, want)
	}
	b, err := items[2].Load()
	if err != nil || !bytes.Equal(b, fixture.PNG(fixture.Pixels(1, 3, 3, 1))) {
		t.Fatalf("Load: %v", err)
	}
	// Symlinked class folders (outside the root: with FollowSymlinks) and
	// files are followed; dangling links skipped.
	ln := t.TempDir()
	os.Symlink(filepath.Join(dir, "b_dog"), filepath.Join(ln, "dog"))
	os.Mkdir(filepath.Join(ln, "cat"), 0o755)
	os.Symlink(filepath.Join(dir, "a_cat", "9.jpg"), filepath.Join(ln, "cat", "9.jpg"))
	os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(ln, "cat", "gone.jpg"))
	ls, err := source.Open(ln, "imagefolder", source.Options{FollowSymlinks: true})
	if err != nil {
		t.Fatal(err)
	}
	keys = keys[:0]
	for _, it := range all(t, ls) {
		keys = append(keys, fmt.Sprintf("%s:%d:%v", it.Key, it.Label, it.Skip != ""))
	}
	if want := []string{"cat/9.jpg:0:false", "cat/gone.jpg:0:true", "dog/1.png:1:false", "dog/x/2.png:1:false"}; !reflect.DeepEqual(keys, want) {
		t.Fatalf("symlinks: got %q, want %q", keys, want)
	}
	big, _ := source.Open(dir, "imagefolder", source.Options{MaxFileBytes: 10})
	if it, _ := big.Next(); !strings.Contains(it.Skip, "bound") {
		t.Fatalf("over-size file not skipped: %q", it.Skip)
	}
}

func TestExpandBraces(t *testing.T) {
	got, err := source.ExpandBraces("d/s-{08..11}-{a,b}.tar")
	want := []string{"d/s-08-a.tar", "d/s-08-b.tar", "d/s-09-a.tar", "d/s-09-b.tar", "d/s-10-a.tar", "d/s-10-b.tar", "d/s-11-a.tar", "d/s-11-b.tar"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q %v", got, err)
	}
	for _, bad := range []string{"a{1..", "a{3..1}", "a}", "{0..99999999}", "{a{b}}"} {
		if _, err := source.ExpandBraces(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestDetect(t *testing.T) {
	for in, want := range map[string]string{"x/s-{0..3}.tar": "wds"} {
		if got, _ := source.Detect(in); got != want {
			t.Errorf("Detect(%q) = %q", in, got)
		}
	}
	if _, err := source.Detect(t.TempDir()); !errors.Is(err, source.ErrNoInput) {
		t.Errorf("empty dir: %v", err)
	}
}

func TestWebDatasetGzip(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.tar")
	sampleTar(t, p, 0, 3)
	b, _ := os.ReadFile(p)
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(b)
	zw.Close()
	os.Remove(p)
	os.WriteFile(filepath.Join(dir, "x.tar.gz"), z.Bytes(), 0o644)
	s, err := source.Open(dir, "auto", source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if items := all(t, s); len(items) != 3 || items[2].Key != "s/000002" || items[2].Skip != "" {
		t.Fatalf("gzipped tar: %d items", len(items))
	}
	// A cut gzip stream fails the input, naming the file (the samples
	// before the cut are not checked by any CRC).
	os.WriteFile(filepath.Join(dir, "x.tar.gz"), z.Bytes()[:z.Len()/2], 0o644)
	s2, _ := source.Open(dir, "auto", source.Options{})
	defer s2.Close()
	if _, err := drainErr(s2); err == nil || !strings.Contains(err.Error(), "x.tar.gz") {
		t.Fatalf("cut gzip: %v", err)
	}
}

func TestWebDatasetRepeatedKey(t *testing.T) {
	dir := t.TempDir()
	img := fixture.PNG(fixture.Pixels(1, 3, 3, 1))
	var ms []fixture.Member
	for i := 0; i < 1500; i++ {
		ms = append(ms, fixture.Member{Name: "same.png", Data: img})
	}
	ms = append(ms, fixture.Member{Name: "next.png", Data: img})
	p := filepath.Join(dir, "r.tar")
	fixture.Tar(p, ms)
	s, _ := source.Open(p, "wds", source.Options{})
	defer s.Close()
	items := all(t, s)
	if len(items) != 2 || !strings.Contains(items[0].Skip, "more than 1024 members") || items[1].Key != "next" || items[1].Skip != "" {
		t.Fatalf("repeated key: %d items, first skip %q", len(items), items[0].Skip)
	}
}
