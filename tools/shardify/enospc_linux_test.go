//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/pairflow/pairflow/tools/shardify/internal/fixture"
)

// A pack into a full filesystem (a 256 KiB tmpfs: mounting needs root,
// else the test is skipped; shards' TestDiskFullLeavesNoTempFiles injects
// ENOSPC everywhere) fails with ENOSPC and leaves no file behind, whichever
// write the disk fills on. Before, finishing a shard on a full disk left its
// .tmp file.
func TestPackDiskFull(t *testing.T) {
	mnt := t.TempDir()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=256k"); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(mnt, syscall.MNT_DETACH) })
	in := t.TempDir()
	p, _ := fixture.IDX(in, "train", 1500, 28, 28, false)
	for _, size := range []string{"64KiB", "100KiB", "200KiB"} {
		out := filepath.Join(mnt, "out")
		os.RemoveAll(out)
		rc, _, stderr := shardify(t, "pack", "--quiet", "--in", p, "--out", out, "--encoding", "raw-s2", "--shard-size", size)
		if rc != 1 || !strings.Contains(stderr, "no space left on device") {
			t.Fatalf("shard size %s: rc %d %s", size, rc, stderr)
		}
		ents, _ := os.ReadDir(out)
		if len(ents) != 0 {
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			t.Fatalf("shard size %s: left %v", size, names)
		}
	}
}
