package pipeline_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/pairflow/pairflow/pipeline"
)

// ParseConfig never panics; what it accepts validates and survives a JSON
// round trip unchanged.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"kind":"contrastive","batch_size":4,"views":3,"recipe":["torchvision-a","simclr-small",{"version":1}],"seed":7}`))
	f.Add([]byte(`{"kind":"inpainting","batch_size":2,"recipe":"x","mask":{"mode":"patches","ratio":0.5,"patch":4,"fill":-1}}`))
	f.Add([]byte(`{"kind":"eval","batch_size":1,"recipe":"x","skip":{"policy":"skip","max_count":3,"max_fraction":0.5}}`))
	f.Add([]byte(`{"kind":"relative-patch","batch_size":9,"recipe":"x","patch":{"gap":0.5,"jitter":0.1},"world_size":4,"rank":3}`))
	f.Add([]byte(`{"kind":"eval","batch_size":2,"recipe":"x","max_pixels":1048576}`))
	f.Add([]byte(`{"kind":"eval","batch_size":2,"recipe":"x","max_pixels":-5}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := pipeline.ParseConfig(b)
		if err != nil {
			if !errors.Is(err, pipeline.ErrConfig) {
				t.Fatalf("error without ErrConfig: %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted config does not validate: %v", err)
		}
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := pipeline.ParseConfig(out)
		if err != nil {
			t.Fatalf("round trip of %s: %v", out, err)
		}
		out2, _ := json.Marshal(c2)
		if string(out) != string(out2) {
			t.Fatalf("round trip changed %s to %s", out, out2)
		}
	})
}

// DecodeState never panics and refuses malformed input with ErrState.
func FuzzDecodeState(f *testing.F) {
	f.Add([]byte(`{"version":1,"sampler":{"version":1,"fingerprint":"","layout":"0123456789abcdef","seed":"42","epoch":3,"position":8,"skipped":0,"world_size":1,"rank":0},"batches":2,"epoch_skipped":0}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{"version":1,"sampler":null,"batches":-1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := pipeline.DecodeState(b)
		if err != nil {
			if !errors.Is(err, pipeline.ErrState) {
				t.Fatalf("error without ErrState: %v", err)
			}
			return
		}
		enc, err := st.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pipeline.DecodeState(enc); err != nil {
			t.Fatalf("re-decoding %s: %v", enc, err)
		}
	})
}
