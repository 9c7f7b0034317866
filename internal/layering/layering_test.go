package layering

import (
	"go/build"
	"path"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/pairflow/pairflow"

// never lists, for each package, the packages (and their subpackages) it
// must never depend on, directly or through another package. It is
// docs/architecture.md's table.
var never = map[string][]string{
	"internal/cpu":        {"pix", "shards", "imageio", "ops", "sampler", "arrowpair", "pipeline", "trainer", "tools"},
	"internal/atomicfile": {"internal/cpu", "internal/inputfile", "pix", "shards", "imageio", "ops", "sampler", "arrowpair", "pipeline", "trainer", "tools"},
	"internal/filelock":   {"internal/cpu", "internal/atomicfile", "internal/inputfile", "pix", "shards", "imageio", "ops", "sampler", "arrowpair", "pipeline", "trainer", "tools"},
	"internal/inputfile":  {"internal/cpu", "internal/atomicfile", "pix", "shards", "imageio", "ops", "sampler", "arrowpair", "pipeline", "trainer", "tools"},
	"pix":                 {"internal", "shards", "imageio", "ops", "sampler", "arrowpair", "pipeline", "trainer", "tools"},
	"shards":              {"pix", "imageio", "ops", "sampler", "arrowpair", "pipeline", "trainer", "tools"},
	"sampler":             {"pix", "shards", "imageio", "ops", "arrowpair", "pipeline", "trainer", "tools"},
	"imageio":             {"ops", "sampler", "arrowpair", "pipeline", "trainer", "tools"},
	"ops":                 {"shards", "imageio", "sampler", "arrowpair", "pipeline", "trainer", "tools"},
	"arrowpair":           {"shards", "imageio", "sampler", "pipeline", "trainer", "tools"},
	"pipeline":            {"trainer", "tools"},
	"trainer":             {"pix", "shards", "imageio", "ops", "sampler", "arrowpair", "pipeline", "tools"},
}

// foreign lists third-party modules no package of the main module may use
// (gorgonia lives in the nested module contrib/gorgonia).
var foreign = []string{"gorgonia.org/", "github.com/apache/arrow/go/arrow"}

// importCache holds each walked package's direct imports.
var importCache = map[string][]string{}

// deps returns every package imp depends on (not its tests), transitively.
func deps(t *testing.T, imp string, seen map[string]bool) {
	t.Helper()
	if seen[imp] {
		return
	}
	seen[imp] = true
	if !strings.HasPrefix(imp, module+"/") {
		return // third-party and standard packages: named, not walked
	}
	imports, ok := importCache[imp]
	if !ok {
		p, err := build.Import(imp, ".", 0)
		if err != nil {
			t.Fatalf("%s: %v", imp, err)
		}
		imports = p.Imports
		importCache[imp] = imports
	}
	for _, d := range imports {
		deps(t, d, seen)
	}
}

func TestLayering(t *testing.T) {
	for pkg, bad := range never {
		seen := map[string]bool{}
		deps(t, path.Join(module, pkg), seen)
		for d := range seen {
			rel, ok := strings.CutPrefix(d, module+"/")
			if !ok || rel == pkg {
				continue
			}
			for _, b := range bad {
				if rel == b || strings.HasPrefix(rel, b+"/") {
					t.Errorf("%s depends on %s (docs/architecture.md: it must never import %s)", pkg, rel, b)
				}
			}
		}
	}
}

func TestNoForeignModules(t *testing.T) {
	roots := slices.Sorted(func(yield func(string) bool) {
		for p := range never {
			if !yield(p) {
				return
			}
		}
	})
	roots = append(roots, "tools/pretrain", "tools/lineval", "tools/shardify", "tools/pairstream", "tools/pairbench", "tools/preview", "tools/trainbench", "tools/serve")
	seen := map[string]bool{}
	for _, r := range roots {
		deps(t, path.Join(module, r), seen)
	}
	for d := range seen {
		for _, f := range foreign {
			if strings.HasPrefix(d, f) {
				t.Errorf("the main module depends on %s", d)
			}
		}
	}
}
