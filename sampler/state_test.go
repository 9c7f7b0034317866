package sampler

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func validStateJSON(t testing.TB) []byte {
	s, err := New(Config{Records: 1000, Seed: 1<<63 + 5, WorldSize: 4, Rank: 2, BatchSize: 8, Fingerprint: testFP})
	if err != nil {
		t.Fatal(err)
	}
	for range 17 {
		s.Next()
	}
	s.CountSkipped(3)
	b, err := s.State().Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStateRoundTrip(t *testing.T) {
	b := validStateJSON(t)
	if !bytes.Contains(b, []byte(`"version":1`)) || !bytes.Contains(b, []byte(`"seed":"9223372036854775813"`)) {
		t.Errorf("encoding %s lacks the version or the string seed", b)
	}
	st, err := DecodeState(b)
	if err != nil {
		t.Fatal(err)
	}
	want := State{Version: 1, Fingerprint: testFP, Seed: 1<<63 + 5, Position: 17, Skipped: 3, WorldSize: 4, Rank: 2}
	want.Layout = st.Layout
	if st != want {
		t.Errorf("decoded %+v, want %+v", st, want)
	}
}

func TestDecodeStateRefuses(t *testing.T) {
	good := string(validStateJSON(t))
	replace := func(old, new string) string {
		if !strings.Contains(good, old) {
			t.Fatalf("%q not in %s", old, good)
		}
		return strings.Replace(good, old, new, 1)
	}
	cases := []struct {
		name string
		in   string
		want error
	}{
		{"version 2", replace(`"version":1`, `"version":2`), ErrVersion},
		{"version 0", replace(`"version":1`, `"version":0`), ErrVersion},
		{"version 1.5", replace(`"version":1`, `"version":1.5`), ErrVersion},
		{"no version", replace(`"version":1,`, ``), ErrVersion},
		{"not JSON", `{"version":1`, ErrState},
		{"array", `[1]`, ErrState},
		{"unknown field", replace(`"rank":2`, `"rank":2,"workers":8`), ErrState},
		{"trailing data", good + `{}`, ErrState},
		{"negative position", replace(`"position":17`, `"position":-1`), ErrState},
		{"rank ≥ world", replace(`"rank":2`, `"rank":4`), ErrState},
		{"world 0", replace(`"world_size":4`, `"world_size":0`), ErrState},
		{"bad fingerprint", replace(testFP, "xyz"), ErrState},
		{"numeric seed", replace(`"seed":"9223372036854775813"`, `"seed":5`), ErrState},
		{"too large", good + strings.Repeat(" ", MaxStateBytes), ErrState},
	}
	for _, c := range cases {
		if _, err := DecodeState([]byte(c.in)); !errors.Is(err, c.want) {
			t.Errorf("%s: err=%v, want %v", c.name, err, c.want)
		}
	}
	if _, err := DecodeState([]byte(good)); err != nil {
		t.Errorf("good state refused: %v", err)
	}
	if _, err := (State{Version: 3}).Encode(); !errors.Is(err, ErrVersion) {
		t.Errorf("Encode of version 3: err=%v", err)
	}
}

// FuzzDecodeState: decoding never panics, and whatever decodes re-encodes to
// a state that decodes to the same value.
func FuzzDecodeState(f *testing.F) {
	f.Add(validStateJSON(f))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{"version":1,"layout":"0000000000000000","seed":"1","epoch":0,"position":0,"skipped":0,"world_size":1,"rank":0,"fingerprint":""}`))
	f.Add([]byte(`{"version":1e400}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := DecodeState(data)
		if err != nil {
			if !errors.Is(err, ErrState) && !errors.Is(err, ErrVersion) {
				t.Fatalf("error %v wraps neither ErrState nor ErrVersion", err)
			}
			return
		}
		b, err := st.Encode()
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", st, err)
		}
		again, err := DecodeState(b)
		if err != nil || again != st {
			t.Fatalf("round trip: %+v → %s → %+v, %v", st, b, again, err)
		}
		// Restoring it into a matching configuration never panics either.
		cfg := Config{Records: 1000, Seed: st.Seed, WorldSize: st.WorldSize, Rank: st.Rank, Fingerprint: st.Fingerprint}
		if s, err := Restore(cfg, st); err == nil {
			s.Next()
		}
	})
}
