package cli

import (
	"flag"
	"io"
	"slices"
	"testing"
)

func TestRemoteArgs(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"--s3-endpoint=http://127.0.0.1:9000", "--s3-region=eu-west-1", "--cache-dir=/tmp/c",
			"--cache-bytes=5GiB", "--access=range", "--s3-path-style", "--s3-anonymous"},
		{"--access=whole", "--cache-dir=/x y"},
	} {
		var r, again Remote
		fs := flag.NewFlagSet("a", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		r.Register(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		fs2 := flag.NewFlagSet("b", flag.ContinueOnError)
		again.Register(fs2)
		if err := fs2.Parse(r.Args()); err != nil {
			t.Fatalf("%q: %v", r.Args(), err)
		}
		if again != r {
			t.Fatalf("%q: Args %q gave %+v, want %+v", args, r.Args(), again, r)
		}
		if len(args) == 0 && len(r.Args()) != 0 {
			t.Fatalf("defaults: Args %q, want none", r.Args())
		}
		if slices.Contains(r.Args(), "--access=whole") {
			t.Fatalf("Args %q repeats the default access", r.Args())
		}
	}
}
