package shards

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
	"unicode/utf8"
)

// ManifestName is the manifest's file name inside a split directory.
const ManifestName = "index.json"

// FormatName is the manifest's "format" value.
const FormatName = "pairflow-shards"

// ManifestVersion is the manifest version this package writes. It reads
// versions 1 and 2 (see FORMAT.md).
const ManifestVersion = 2

// Manifest is the content of index.json. Marshal gives its canonical,
// deterministic bytes; ParseManifest reads and validates them.
type Manifest struct {
	Format  string   `json:"format"`  // always FormatName
	Version int      `json:"version"` // 1 or ManifestVersion
	Split   string   `json:"split"`
	Records int64    `json:"records"` // sum of Shards[i].Records
	Classes []string `json:"classes,omitempty"`
	// MaxPixels (version 2) is the pixel budget (width×height) the packer
	// applied to every image; 0 means not recorded. A pipeline refuses a
	// split whose budget is above its own.
	MaxPixels int64             `json:"max_pixels,omitempty"`
	Layout    Layout            `json:"layout"`
	Options   map[string]string `json:"options,omitempty"` // output-shaping options of the packer
	Shards    []ShardInfo       `json:"shards"`
	Skipped   []Skipped         `json:"skipped,omitempty"` // sorted by Path, then Reason
	// Inputs (version 2) are the files the split was packed from, in the
	// order they were read, each with its SHA-256: provenance that can be
	// checked against the inputs later.
	Inputs []Input `json:"inputs,omitempty"`
	// SHA256 (version 2, required) is the SHA-256 of the manifest's
	// canonical form with this field empty: any change to any field is
	// detected. Marshal fills it in.
	SHA256 string `json:"sha256,omitempty"`
}

// Input is one input of the packer: a file, or (Files > 0) a directory tree
// whose SHA256 is that of the listing "<sha256 of file>  <path>\n" of its
// Files files in reading order (the output of sha256sum run on them in that
// order), paths relative to the input root.
type Input struct {
	Path   string `json:"path"` // slash-separated, relative; "." for the input root
	Files  int64  `json:"files,omitempty"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// Layout records the Writer options that shaped the shard files.
type Layout struct {
	MaxShardBytes   int64 `json:"max_shard_bytes"`
	MaxShardRecords int   `json:"max_shard_records"`
	ZstdLevel       int   `json:"zstd_level"`
	Dictionary      bool  `json:"dictionary"`
}

// ShardInfo describes one shard file.
type ShardInfo struct {
	File    string `json:"file"`    // base name, "<split>-<5+ digit index>.pfs"
	Records int    `json:"records"` // at least 1
	Bytes   int64  `json:"bytes"`
	SHA256  string `json:"sha256"` // lower-case hex of the whole file
}

// Skipped is an input the packer left out.
type Skipped struct {
	Path   string `json:"path"` // slash-separated, relative to the input root
	Reason string `json:"reason"`
}

var (
	splitRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	shaRE   = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// ShardName returns the file name of shard j of split.
func ShardName(split string, j int) string { return fmt.Sprintf("%s-%05d.pfs", split, j) }

func validSplit(s string) bool { return splitRE.MatchString(s) && !strings.Contains(s, "..") }

// validRelPath reports whether p is a clean, relative, slash-separated path.
func validRelPath(p string) bool {
	return p != "" && utf8.ValidString(p) && !strings.ContainsAny(p, "\\\x00") && !path.IsAbs(p) &&
		path.Clean(p) == p && p != ".." && !strings.HasPrefix(p, "../") && len(p) <= 4096
}

// Marshal returns the manifest's canonical JSON (two-space indent, map keys
// sorted, trailing newline). For version 2 and later it computes the
// manifest checksum (the SHA256 field) afresh; m is not modified.
func (m *Manifest) Marshal() ([]byte, error) {
	c := *m
	c.SHA256 = ""
	b, err := c.marshal()
	if err != nil || m.Version < 2 {
		return b, err
	}
	c.SHA256 = checksum(b)
	return c.marshal()
}

func (m *Manifest) marshal() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func checksum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// IsCanonical reports whether b is exactly the canonical form of the
// manifest it parses to (as Marshal writes it). A manifest that parses but
// is not canonical was written or edited by something else.
func IsCanonical(b []byte) bool {
	m, err := ParseManifest(b)
	if err != nil {
		return false
	}
	c, err := m.Marshal()
	return err == nil && bytes.Equal(b, c)
}

// ParseManifest decodes and validates index.json content: the version must be
// Version (ErrVersion otherwise), unknown fields are refused, shard names must
// follow ShardName in order and counts must add up (ErrManifest).
func ParseManifest(b []byte) (*Manifest, error) {
	if len(b) > MaxManifestSize {
		return nil, fmt.Errorf("shards: %s is %d bytes, above %d: %w", ManifestName, len(b), MaxManifestSize, ErrManifest)
	}
	// Read the version first so that a newer manifest gets ErrVersion, not a
	// complaint about a field this version does not know.
	var probe struct {
		Format  string `json:"format"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("shards: %s: %v: %w", ManifestName, err, ErrManifest)
	}
	if probe.Format != FormatName {
		return nil, fmt.Errorf("shards: %s: format %q, want %q: %w", ManifestName, probe.Format, FormatName, ErrManifest)
	}
	if probe.Version != 1 && probe.Version != ManifestVersion {
		return nil, fmt.Errorf("shards: %s: manifest version %d, this reader knows versions 1 and %d: %w", ManifestName, probe.Version, ManifestVersion, ErrVersion)
	}
	// encoding/json matches keys case-insensitively and keeps the last of
	// duplicated keys; a manifest must spell each key exactly, once.
	if err := checkKeys(b, probe.Version); err != nil {
		return nil, fmt.Errorf("shards: %s: %v: %w", ManifestName, err, ErrManifest)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("shards: %s: %v: %w", ManifestName, err, ErrManifest)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("shards: %s: data after the JSON object: %w", ManifestName, ErrManifest)
	}
	// An empty list or map that the canonical form omits ("skipped": [])
	// reads as absent, so that a manifest equals its canonical form's.
	if len(m.Classes) == 0 {
		m.Classes = nil
	}
	if len(m.Options) == 0 {
		m.Options = nil
	}
	if len(m.Skipped) == 0 {
		m.Skipped = nil
	}
	if len(m.Inputs) == 0 {
		m.Inputs = nil
	}
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("shards: %s: %s: %w", ManifestName, err, ErrManifest)
	}
	if m.Version >= 2 {
		c := m
		c.SHA256 = ""
		cb, err := c.marshal()
		if err != nil {
			return nil, fmt.Errorf("shards: %s: %v: %w", ManifestName, err, ErrManifest)
		}
		if sum := checksum(cb); sum != m.SHA256 {
			return nil, fmt.Errorf("shards: %s: manifest checksum %s, its content hashes to %s (the manifest was altered): %w: %w",
				ManifestName, m.SHA256, sum, ErrChecksum, ErrManifest)
		}
	}
	return &m, nil
}

func (m *Manifest) validate() error {
	if !validSplit(m.Split) {
		return fmt.Errorf("invalid split name %q", m.Split)
	}
	l := m.Layout
	if l.MaxShardBytes < 0 || l.MaxShardRecords < 0 || l.MaxShardRecords > MaxShardRecords || l.ZstdLevel < 0 || l.ZstdLevel > 22 {
		return fmt.Errorf("invalid layout %+v", l)
	}
	var total int64
	for j, s := range m.Shards {
		switch {
		case s.File != ShardName(m.Split, j):
			return fmt.Errorf("shard %d is named %q, want %q", j, s.File, ShardName(m.Split, j))
		case s.Records < 1 || s.Records > MaxShardRecords:
			return fmt.Errorf("shard %s has %d records, want 1..%d", s.File, s.Records, MaxShardRecords)
		case s.Bytes < int64(minShardSize)+int64(s.Records)*minFrame:
			return fmt.Errorf("shard %s: %d bytes is too small for %d records", s.File, s.Bytes, s.Records)
		case !shaRE.MatchString(s.SHA256):
			return fmt.Errorf("shard %s: sha256 %q is not 64 lower-case hex digits", s.File, s.SHA256)
		}
		total += int64(s.Records)
	}
	if total != m.Records {
		return fmt.Errorf("records is %d but the shards hold %d", m.Records, total)
	}
	for i, s := range m.Skipped {
		if !validRelPath(s.Path) {
			return fmt.Errorf("skipped path %q is not a clean relative path", s.Path)
		}
		if i > 0 && !skippedLess(m.Skipped[i-1], s) {
			return fmt.Errorf("skipped entries not sorted at %q", s.Path)
		}
	}
	for _, c := range m.Classes {
		if !utf8.ValidString(c) {
			return fmt.Errorf("class name %q is not UTF-8", c)
		}
	}
	if m.Version < 2 {
		return nil
	}
	if m.MaxPixels < 0 {
		return fmt.Errorf("max_pixels %d is negative", m.MaxPixels)
	}
	if !shaRE.MatchString(m.SHA256) {
		return fmt.Errorf("manifest sha256 %q is not 64 lower-case hex digits", m.SHA256)
	}
	seen := make(map[string]bool, len(m.Inputs))
	for _, in := range m.Inputs {
		switch {
		case in.Path != "." && !validRelPath(in.Path):
			return fmt.Errorf("input path %q is not a clean relative path", in.Path)
		case seen[in.Path]:
			return fmt.Errorf("input %q listed twice", in.Path)
		case in.Bytes < 0 || in.Files < 0:
			return fmt.Errorf("input %q: negative size or file count", in.Path)
		case !shaRE.MatchString(in.SHA256):
			return fmt.Errorf("input %q: sha256 %q is not 64 lower-case hex digits", in.Path, in.SHA256)
		}
		seen[in.Path] = true
	}
	return nil
}

func skippedLess(a, b Skipped) bool {
	if a.Path != b.Path {
		return a.Path < b.Path
	}
	return a.Reason < b.Reason
}
