package pipeline_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var updatePipelineGolden = flag.Bool("update-pipeline-golden", false, "rewrite testdata/pipeline_golden.json")

// One seed and configuration pin the exact bytes of every kind's stream
// (SHA-256 of the IPC stream). A change to an op's arithmetic, the sampler's
// order or the schema shows up here; regenerate deliberately with
//
//	go test ./pipeline -run TestPipelineGolden -update-pipeline-golden
func TestPipelineGolden(t *testing.T) {
	ds := makeDataset(t, dsOpts{n: 37})
	got := map[string]string{}
	for kind, cfg := range kindConfigs() {
		sum := sha256.Sum256(runBytes(t, ds, cfg))
		got[string(kind)] = hex.EncodeToString(sum[:])
	}
	path := filepath.Join("testdata", "pipeline_golden.json")
	if *updatePipelineGolden {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update-pipeline-golden to create it)", err)
	}
	var want map[string]string
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	for k, sum := range got {
		if want[k] != sum {
			t.Errorf("%s: stream SHA-256 %s, golden %s", k, sum, want[k])
		}
	}
	if len(want) != len(got) {
		t.Errorf("golden has %d kinds, run %d", len(want), len(got))
	}
}
