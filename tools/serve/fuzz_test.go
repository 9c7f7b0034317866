package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"testing"
)

var fuzzKey = []byte("fuzz-key-0123456789abcdef")

// FuzzTicket: any bytes from the network either parse as a ticket signed
// with the key or fail with ErrTicket; nothing panics.
func FuzzTicket(f *testing.F) {
	good, _ := signTicket(fuzzKey, &ticket{Dataset: "d", Fingerprint: "x/y",
		Config: json.RawMessage(`{"kind":"contrastive","batch_size":8,"recipe":"torchvision-a"}`), Workers: 1})
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add([]byte("PFT1{}"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		tk, _, err := parseTicket(fuzzKey, b)
		if err != nil {
			if !errors.Is(err, ErrTicket) {
				t.Fatalf("error %v does not wrap ErrTicket", err)
			}
			return
		}
		if tk.Workers < 1 || tk.Worker >= tk.Workers {
			t.Fatalf("accepted worker %d of %d", tk.Worker, tk.Workers)
		}
	})
}

// FuzzTicketPayload signs arbitrary payloads, so that the fuzzer reaches
// the decoding behind the signature check (what a holder of the pool's key,
// or a bug in another server version, could send).
func FuzzTicketPayload(f *testing.F) {
	f.Add([]byte(`{"dataset":"d","fingerprint":"x","config":{"kind":"contrastive","batch_size":8,"recipe":"torchvision-a"},"worker":0,"workers":1,"start":{"epoch":0,"batch":0}}`))
	f.Add([]byte(`{"dataset":"d","config":{"kind":"eval","batch_size":1,"recipe":"x"},"worker":3,"workers":2}`))
	f.Add([]byte(`{"config":null}`))
	f.Add([]byte(`{"dataset":"d","fingerprint":"x","config":{"kind":"contrastive","batch_size":8,"recipe":"torchvision-a","skip":{"policy":"skip","max_count":3}},"worker":0,"workers":1,"start":{"epoch":0,"batch":2},"spent":{"total":2,"epoch":1}}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		b := append([]byte(ticketMagic), payload...)
		m := hmac.New(sha256.New, fuzzKey)
		m.Write(b)
		b = m.Sum(b)
		tk, cfg, err := parseTicket(fuzzKey, b)
		if err != nil {
			if !errors.Is(err, ErrTicket) {
				t.Fatalf("error %v does not wrap ErrTicket", err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("accepted an invalid config: %v", err)
		}
		// A ticket that parses signs back to one that parses the same.
		again, err := signTicket(fuzzKey, tk)
		if err != nil {
			t.Fatal(err)
		}
		tk2, _, err := parseTicket(fuzzKey, again)
		if err != nil || tk2.Dataset != tk.Dataset || tk2.Start != tk.Start || tk2.Worker != tk.Worker || tk2.Spent != tk.Spent {
			t.Fatalf("re-signed ticket: %+v, %v", tk2, err)
		}
	})
}

// FuzzDescriptor: descriptors from the network parse or fail with
// ErrDescriptor; an accepted one has a valid config and bounded endpoints.
func FuzzDescriptor(f *testing.F) {
	f.Add([]byte(`{"version":1,"dataset":"d","config":{"kind":"contrastive","batch_size":8,"recipe":"torchvision-a","world_size":4,"epochs":2},"worker_count":2,"start":{"epoch":1,"batch":3}}`))
	f.Add([]byte(`{"version":1,"dataset":"d","config":{"kind":"eval","batch_size":8,"recipe":{"version":1,"ops":[]}}}`))
	f.Add([]byte(`{"version":1,"dataset":"d","config":{"kind":"contrastive","batch_size":8,"recipe":["a","b"],"views":2}}`))
	f.Add([]byte(`{"version":1,"dataset":"d","config":{"kind":"contrastive","batch_size":8,"recipe":"torchvision-a","skip":{"policy":"skip","max_fraction":0.1}},"worker_count":2,"start":{"epoch":0,"batch":3},"skips_spent":{"1":{"total":4,"epoch":2}}}`))
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseDescriptor(b)
		if err != nil {
			if !errors.Is(err, ErrDescriptor) {
				t.Fatalf("error %v does not wrap ErrDescriptor", err)
			}
			return
		}
		if err := r.cfg.Validate(); err != nil {
			t.Fatalf("accepted an invalid config: %v", err)
		}
		if r.workers < 1 || r.world()*r.workers > MaxEndpoints {
			t.Fatalf("accepted %d × %d endpoints", r.world(), r.workers)
		}
		if !json.Valid(r.cfgJSON) || bytes.Contains(r.cfgJSON, []byte(`"rank"`)) {
			t.Fatalf("canonical config %s", r.cfgJSON)
		}
		for i, sp := range r.spent {
			if i < 0 || i >= r.world()*r.workers || sp.check(&r.cfg, r.start) != nil {
				t.Fatalf("accepted skips_spent %d: %+v", i, sp)
			}
		}
	})
}
