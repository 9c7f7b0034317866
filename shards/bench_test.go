package shards

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
)

// Benchmark data: Fashion-MNIST images (28×28×1) when the Debian package
// dataset-fashion-mnist is installed, and 400×350×3 crops of the JPEG
// wallpapers in /usr/share/backgrounds or /usr/share/wallpapers when present;
// otherwise synthetic pixels of the same sizes.

const (
	mnistRecords = 8192
	photoRecords = 96
)

type benchSet struct {
	name    string
	w, h, c int
	pix     [][]byte // distinct images, cycled
	jpegs   [][]byte // JPEG encodings of pix (photo only)
	real    bool
}

var (
	benchOnce sync.Once
	benchDir  string
	sets      map[string]*benchSet
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

func loadMNIST() [][]byte {
	f, err := os.Open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
	if err != nil {
		return nil
	}
	defer f.Close()
	g, err := gzip.NewReader(f)
	if err != nil {
		return nil
	}
	all, err := io.ReadAll(g)
	if err != nil || len(all) < 16+784*mnistRecords {
		return nil
	}
	var out [][]byte
	for i := range mnistRecords {
		out = append(out, all[16+784*i:16+784*(i+1)])
	}
	return out
}

func loadPhotos(w, h, n int) [][]byte {
	var files []string
	// Real photographs first (Debian's mate-backgrounds "nature" set), then
	// the other wallpapers, many of which are flat artwork.
	for _, root := range []string{"/usr/share/backgrounds/mate/nature", "/usr/share/backgrounds", "/usr/share/wallpapers"} {
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && (filepath.Ext(p) == ".jpg" || filepath.Ext(p) == ".jpeg") {
				files = append(files, p)
			}
			return nil
		})
	}
	var out [][]byte
	seen := map[string]bool{}
	for _, p := range files {
		if len(out) >= n {
			break
		}
		b, err := os.ReadFile(p)
		if err != nil || len(b) > 8<<20 || seen[p] {
			continue
		}
		seen[p] = true
		perFile := 0
		m, err := jpeg.Decode(bytes.NewReader(b))
		if err != nil {
			continue
		}
		bd := m.Bounds()
		for y := bd.Min.Y; y+h <= bd.Max.Y && len(out) < n && perFile < 4; y += h * 2 {
			for x := bd.Min.X; x+w <= bd.Max.X && len(out) < n && perFile < 4; x += w * 2 {
				perFile++
				rgba := image.NewRGBA(image.Rect(0, 0, w, h))
				draw.Draw(rgba, rgba.Bounds(), m, image.Pt(x, y), draw.Src)
				pix := make([]byte, 0, w*h*3)
				for i := 0; i < len(rgba.Pix); i += 4 {
					pix = append(pix, rgba.Pix[i:i+3]...)
				}
				out = append(out, pix)
			}
		}
	}
	return out
}

func toJPEG(pix []byte, w, h int) []byte {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range w * h {
		copy(m.Pix[4*i:], pix[3*i:3*i+3])
		m.Pix[4*i+3] = 255
	}
	var b bytes.Buffer
	jpeg.Encode(&b, m, &jpeg.Options{Quality: 90})
	return b.Bytes()
}

func setupBench(b *testing.B) {
	benchOnce.Do(func() {
		var err error
		if benchDir, err = os.MkdirTemp("", "shards-bench-"); err != nil {
			b.Fatal(err)
		}
		mn := &benchSet{name: "mnist28x28x1", w: 28, h: 28, c: 1, pix: loadMNIST(), real: true}
		if mn.pix == nil {
			mn.real = false
			for i := range mnistRecords {
				mn.pix = append(mn.pix, synthPixels(28, 28, 1, uint64(i)))
			}
		}
		ph := &benchSet{name: "photo400x350x3", w: 400, h: 350, c: 3, pix: loadPhotos(400, 350, 32), real: true}
		if len(ph.pix) < 8 {
			ph.real = false
			ph.pix = nil
			for i := range 8 {
				ph.pix = append(ph.pix, synthPixels(400, 350, 3, uint64(i)))
			}
		}
		for _, p := range ph.pix {
			ph.jpegs = append(ph.jpegs, toJPEG(p, 400, 350))
		}
		sets = map[string]*benchSet{"mnist": mn, "photo": ph}
		for _, s := range []*benchSet{mn, ph} {
			n := mnistRecords
			if s == ph {
				n = photoRecords
			}
			for _, v := range variants(s) {
				writeBenchSplit(b, filepath.Join(benchDir, s.name, v.name), s, v, n)
			}
		}
	})
}

type variant struct {
	name string
	enc  Encoding
	dict bool
}

func variants(s *benchSet) []variant {
	v := []variant{{"raw-zstd", RawZstd, false}, {"raw-s2", RawS2, false}}
	if s.c == 1 {
		v = append(v, variant{"raw-zstd-dict", RawZstd, true})
	}
	if s.jpegs != nil {
		v = append(v, variant{"jpeg", JPEG, false})
	}
	return v
}

func (s *benchSet) record(v variant, i int) *Record {
	k := i % len(s.pix)
	r := &Record{Key: fmt.Sprintf("%s/%07d", s.name, i), Label: int32(i % 10), HasLabel: true,
		Width: s.w, Height: s.h, Channels: s.c, Encoding: v.enc, Payload: s.pix[k]}
	if v.enc == JPEG {
		r.Payload = s.jpegs[k]
	}
	return r
}

func writeBenchSplit(b *testing.B, dir string, s *benchSet, v variant, n int) {
	w, err := Create(dir, WriterOptions{Split: "train", MaxShardBytes: 16 << 20, Dictionary: v.dict})
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		if err := w.Append(s.record(v, i)); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

// forEach runs f for every benchmark set and variant as a sub-benchmark.
func forEach(b *testing.B, f func(b *testing.B, s *benchSet, v variant, dir string)) {
	setupBench(b)
	for _, key := range []string{"mnist", "photo"} {
		s := sets[key]
		for _, v := range variants(s) {
			b.Run(s.name+"/"+v.name, func(b *testing.B) { f(b, s, v, filepath.Join(benchDir, s.name, v.name)) })
		}
	}
}

func logSource(b *testing.B) {
	b.Helper()
	b.Logf("mnist real=%v photo real=%v (%d distinct photos)", sets["mnist"].real, sets["photo"].real, len(sets["photo"].pix))
}

// BenchmarkWrite measures Append (compression, CRC, SHA-256, buffered file
// writes); bytes are uncompressed pixels.
func BenchmarkWrite(b *testing.B) {
	forEach(b, func(b *testing.B, s *benchSet, v variant, _ string) {
		w, err := Create(b.TempDir(), WriterOptions{Split: "bench", MaxShardBytes: 64 << 20, Dictionary: v.dict})
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(s.w * s.h * s.c))
		b.ReportAllocs()
		cpu := startCPU(b)
		for i := range b.N {
			if err := w.Append(s.record(v, i)); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		cpu.report(b, int64(b.N*s.w*s.h*s.c))
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rec/s")
	})
}

// readPixels returns the record's decoded pixels for raw encodings; for
// encoded images it only touches the payload (no image decode).
func readPixels(r *Record, buf []byte) ([]byte, error) {
	if r.Encoding.IsRaw() {
		return r.AppendPixels(buf[:0])
	}
	return buf, nil
}

// BenchmarkReadSeq reads records in order (CRC checked, raw pixels
// decompressed into a reused buffer). Bytes are decoded pixels for raw
// encodings and stored payload bytes for jpeg.
func BenchmarkReadSeq(b *testing.B) {
	forEach(b, func(b *testing.B, s *benchSet, v variant, dir string) {
		d, err := Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		defer d.Close()
		var r Record
		var buf []byte
		it := d.Iter()
		var n int64
		b.ReportAllocs()
		cpu := startCPU(b)
		for range b.N {
			if !it.Next(&r) {
				if it.Err() != nil {
					b.Fatal(it.Err())
				}
				it = d.Iter()
				it.Next(&r)
			}
			if buf, err = readPixels(&r, buf); err != nil {
				b.Fatal(err)
			}
			if v.enc.IsRaw() {
				n += int64(r.PixelLen())
			} else {
				n += int64(len(r.Payload))
			}
		}
		cpu.report(b, n)
		b.SetBytes(n / int64(b.N))
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rec/s")
		logSource(b)
	})
}

// BenchmarkReadRandom reads records in a random order through the index.
func BenchmarkReadRandom(b *testing.B) {
	forEach(b, func(b *testing.B, s *benchSet, v variant, dir string) {
		d, err := Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		defer d.Close()
		perm := rand.New(rand.NewPCG(1, 1)).Perm(d.Len())
		var r Record
		var buf []byte
		var n int64
		b.ReportAllocs()
		cpu := startCPU(b)
		for i := range b.N {
			if err := d.Record(perm[i%len(perm)], &r); err != nil {
				b.Fatal(err)
			}
			if buf, err = readPixels(&r, buf); err != nil {
				b.Fatal(err)
			}
			if v.enc.IsRaw() {
				n += int64(r.PixelLen())
			} else {
				n += int64(len(r.Payload))
			}
		}
		cpu.report(b, n)
		b.SetBytes(n / int64(b.N))
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rec/s")
	})
}

// BenchmarkJPEGShardScan compares, over the same jpeg shard files and in
// bytes of file per second, a sequential read of every record (CRC on, no
// image decode) with io.Copy(io.Discard, file).
func BenchmarkJPEGShardScan(b *testing.B) {
	setupBench(b)
	dir := filepath.Join(benchDir, sets["photo"].name, "jpeg")
	d, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	var total int64
	for _, s := range d.Manifest().Shards {
		total += s.Bytes
	}
	b.Run("records", func(b *testing.B) {
		b.SetBytes(total)
		b.ReportAllocs()
		var r Record
		cpu := startCPU(b)
		for range b.N {
			it := d.Iter()
			for it.Next(&r) {
			}
			if it.Err() != nil {
				b.Fatal(it.Err())
			}
		}
		cpu.report(b, total*int64(b.N))
	})
	b.Run("io.Copy", func(b *testing.B) {
		b.SetBytes(total)
		b.ReportAllocs()
		cpu := startCPU(b)
		defer func() { cpu.report(b, total*int64(b.N)) }()
		for range b.N {
			for _, s := range d.Manifest().Shards {
				f, err := os.Open(filepath.Join(dir, s.File))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, f); err != nil {
					b.Fatal(err)
				}
				f.Close()
			}
		}
	})
}

// BenchmarkS2DecodeOnly is the ceiling for raw-s2 reads: S2 block decoding
// of the same photo payloads from memory, with no I/O and no CRC.
func BenchmarkS2DecodeOnly(b *testing.B) {
	setupBench(b)
	s := sets["photo"]
	var payloads [][]byte
	for _, p := range s.pix {
		payloads = append(payloads, s2.Encode(nil, p))
	}
	dst := make([]byte, len(s.pix[0]))
	b.SetBytes(int64(len(dst)))
	b.ReportAllocs()
	cpu := startCPU(b)
	for i := range b.N {
		if _, err := s2.Decode(dst, payloads[i%len(payloads)]); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b, int64(b.N*len(dst)))
}

// cpuMeter reports MB per CPU-second of the process (see cpuTime).
type cpuMeter struct{ start time.Duration }

func startCPU(b *testing.B) cpuMeter {
	b.ResetTimer()
	return cpuMeter{cpuTime()}
}

func (m cpuMeter) report(b *testing.B, bytes int64) {
	b.StopTimer()
	if d := cpuTime() - m.start; d > 0 {
		b.ReportMetric(float64(bytes)/d.Seconds()/1e6, "MB/cpu-s")
	}
}
