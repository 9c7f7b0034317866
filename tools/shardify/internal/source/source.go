// Package source reads the input datasets that shardify packs — ImageFolder
// trees, WebDataset tar shards, IDX files and CIFAR binary batches — and
// hands their samples out one by one, in a fixed order that depends only on
// the input.
//
// A Source never decodes images: ImageFolder and WebDataset samples carry
// their encoded bytes, IDX and CIFAR samples their raw pixels. Problems with
// one sample (an empty file, a label that does not parse) come back as an
// Item with Skip set, so the packer can report and count them; problems that
// make the rest of the input unreadable come back as errors that name the
// file and, where there is one, the record.
//
// Every length read from an input is checked against a bound before it
// drives an allocation.
package source

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pairflow/pairflow/ops"
)

// Errors wrapped by the sources. Test with errors.Is.
var (
	// ErrFormat means an input file is not laid out as its format demands.
	ErrFormat = errors.New("malformed input")
	// ErrTooLarge means a length read from the input exceeds a bound.
	ErrTooLarge = errors.New("input exceeds size bound")
	// ErrNoInput means the input path names nothing that can be packed.
	ErrNoInput = errors.New("no input found")
)

// DefaultMaxFileBytes bounds the size of one encoded image file or tar member.
const DefaultMaxFileBytes = 256 << 20

// Item is one input sample.
type Item struct {
	// Key is the sample's key, unique within the input.
	Key string
	// Path names the sample's input for messages, relative to the input
	// root (for tar members: "shard.tar/member").
	Path     string
	Label    int32
	HasLabel bool
	// Meta is optional small metadata (JSON) stored with the record.
	Meta []byte
	// Data holds the encoded image bytes (ImageFolder, WebDataset); Ext is
	// the file's extension without the dot, lower case.
	Data []byte
	Ext  string
	// Load, when not nil, reads Data lazily (ImageFolder reads files in the
	// workers). It is safe to call from another goroutine.
	Load func() ([]byte, error)
	// Raw holds decoded pixels (IDX, CIFAR).
	Raw *ops.Image
	// Skip, when not empty, says why this sample cannot be packed.
	Skip string
	// InBytes is how many input bytes this item accounts for (progress).
	InBytes int64
}

// Source yields the items of one input in a deterministic order.
type Source interface {
	// Next returns the next item, or io.EOF after the last one.
	Next() (Item, error)
	// Classes returns the class names in label order, or nil if unknown.
	Classes() []string
	// Len returns the number of items, or -1 when it is not known ahead.
	Len() int
	// InputBytes returns the total input size in bytes, or -1.
	InputBytes() int64
	// Inputs returns the input files read, each with its SHA-256, in
	// reading order; valid once Next has returned io.EOF.
	Inputs() ([]Input, error)
	// Close releases open files.
	Close() error
}

// Options tune how sources read their input.
type Options struct {
	// MaxFileBytes bounds one encoded image file or tar member; 0 means
	// DefaultMaxFileBytes.
	MaxFileBytes int64
	// Split selects which CIFAR batches a directory input means: "test"
	// picks the test batch, anything else the training batches.
	Split string
	// PartialCIFAR accepts CIFAR batches under official names that hold
	// fewer (or more) records than the official batches.
	PartialCIFAR bool
	// FollowSymlinks takes ImageFolder class folders that are symlinks to
	// directories outside the input root (a subset made of links); by
	// default they are skipped and reported. Links that loop back into the
	// tree are always skipped.
	FollowSymlinks bool
}

func (o Options) maxFile() int64 {
	if o.MaxFileBytes <= 0 {
		return DefaultMaxFileBytes
	}
	return o.MaxFileBytes
}

// Formats lists the accepted --format values.
var Formats = []string{"auto", "imagefolder", "wds", "idx", "cifar"}

// Open opens the input at path in the given format ("auto" detects it).
func Open(path, format string, opt Options) (Source, error) {
	if format == "" || format == "auto" {
		f, err := Detect(path)
		if err != nil {
			return nil, err
		}
		format = f
	}
	switch format {
	case "imagefolder":
		return OpenImageFolder(path, opt)
	case "wds":
		return OpenWebDataset(path, opt)
	case "idx":
		return OpenIDX(path, opt)
	case "cifar":
		return OpenCIFAR(path, opt)
	}
	return nil, fmt.Errorf("source: unknown format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

// Detect guesses the format of the input at path: a brace pattern or a .tar
// file is WebDataset; an idx3-ubyte file is IDX; a .bin file is CIFAR; a
// directory holding .tar files is WebDataset, one holding CIFAR batches is
// CIFAR, one holding sub-folders is an ImageFolder.
func Detect(path string) (string, error) {
	if strings.Contains(path, "{") {
		return "wds", nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("source: %w", err)
	}
	if !st.IsDir() {
		base := strings.ToLower(filepath.Base(path))
		switch {
		case isTarName(base):
			return "wds", nil
		case strings.Contains(base, "idx3-ubyte"):
			return "idx", nil
		case strings.HasSuffix(base, ".bin"):
			return "cifar", nil
		}
		return "", fmt.Errorf("source: %s: cannot tell the format from the name; use --format", path)
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return "", fmt.Errorf("source: %w", err)
	}
	var tars, bins, dirs int
	for _, e := range ents {
		n := strings.ToLower(e.Name())
		switch {
		case strings.HasPrefix(n, "."):
		case e.IsDir():
			dirs++
		case isTarName(n):
			tars++
		case strings.HasSuffix(n, ".bin"):
			bins++
		}
	}
	switch {
	case tars > 0:
		return "wds", nil
	case bins > 0:
		return "cifar", nil
	case dirs > 0:
		return "imagefolder", nil
	}
	return "", fmt.Errorf("source: %s: %w (no class folders, .tar or .bin files); use --format", path, ErrNoInput)
}

func isTarName(n string) bool {
	return strings.HasSuffix(n, ".tar") || strings.HasSuffix(n, ".tar.gz") || strings.HasSuffix(n, ".tgz")
}

// ReadClassNames reads one class name per line, ignoring blank lines at the
// end and trimming spaces. It reads at most 1 MiB.
func ReadClassNames(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 1<<20+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > 1<<20 {
		return nil, fmt.Errorf("%s: %w: class-name file over 1 MiB", path, ErrTooLarge)
	}
	var names []string
	for _, l := range strings.Split(string(b), "\n") {
		names = append(names, strings.TrimSpace(l))
	}
	for len(names) > 0 && names[len(names)-1] == "" {
		names = names[:len(names)-1]
	}
	return names, nil
}

// sortedNames returns the entries of dir sorted by name, without hidden ones.
func sortedNames(ents []os.DirEntry) []os.DirEntry {
	out := ents[:0]
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}
