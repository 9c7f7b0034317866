package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/pairflow/pairflow/pipeline"
)

// A ticket is self-contained: everything a server needs to produce the
// endpoint's stream, signed with the pool's key, so that any server of the
// pool can serve (or resume) it and a forged or altered one is refused.
//
//	"PFT1" | payload JSON | HMAC-SHA256(key, "PFT1" | payload) (32 bytes)
//
// The payload is the ticket struct below; its config is the descriptor's
// (canonical JSON, Rank set to the endpoint's rank), and fingerprint is the
// sampler fingerprint of the stream (dataset manifest, kind, recipes, seed,
// batch size, tail policy) the issuing server computed: a server whose
// dataset of that name differs refuses the ticket.

const ticketMagic = "PFT1"

// Ticket size bounds.
const (
	maxTicketBytes = MaxDescriptorBytes + 4096
	minTicketBytes = len(ticketMagic) + 2 + sha256.Size
)

// MinTicketKeyBytes is the shortest --ticket-key accepted.
const MinTicketKeyBytes = 16

// ErrTicket marks a malformed, forged or unusable ticket.
var ErrTicket = errors.New("serve: bad ticket")

// ticket is the signed payload.
type ticket struct {
	Dataset     string          `json:"dataset"`
	Fingerprint string          `json:"fingerprint"`
	Config      json.RawMessage `json:"config"`
	Worker      int             `json:"worker"`
	Workers     int             `json:"workers"`
	Start       Position        `json:"start"`
	Spent       SkipsSpent      `json:"spent"` // skips counted before Start
}

// signTicket encodes and signs t.
func signTicket(key []byte, t *ticket) ([]byte, error) {
	payload, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(ticketMagic)+len(payload)+sha256.Size)
	out = append(out, ticketMagic...)
	out = append(out, payload...)
	m := hmac.New(sha256.New, key)
	m.Write(out)
	return m.Sum(out), nil
}

// parseTicket verifies b's signature and decodes it. It checks the MAC
// before parsing anything, so unsigned bytes never reach the JSON decoder.
// The returned config is validated; the fingerprint is checked by the caller
// against the stream it builds.
func parseTicket(key, b []byte) (*ticket, pipeline.Config, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrTicket}, args...)...)
	}
	if len(b) < minTicketBytes || len(b) > maxTicketBytes {
		return nil, pipeline.Config{}, bad("%d bytes (want %d..%d)", len(b), minTicketBytes, maxTicketBytes)
	}
	if string(b[:len(ticketMagic)]) != ticketMagic {
		return nil, pipeline.Config{}, bad("not a pairflow ticket (magic %q)", b[:len(ticketMagic)])
	}
	body, sum := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	m := hmac.New(sha256.New, key)
	m.Write(body)
	if !hmac.Equal(m.Sum(nil), sum) {
		return nil, pipeline.Config{}, bad("signature does not verify (forged, altered, or signed with another --ticket-key)")
	}
	var t ticket
	if err := strictJSON(body[len(ticketMagic):], &t); err != nil {
		return nil, pipeline.Config{}, bad("%v", err)
	}
	cfg, err := pipeline.ParseConfig(t.Config)
	if err != nil {
		return nil, pipeline.Config{}, bad("config: %v", err)
	}
	if t.Workers < 1 || t.Workers > MaxWorkerCount || t.Worker < 0 || t.Worker >= t.Workers {
		return nil, pipeline.Config{}, bad("worker %d of %d", t.Worker, t.Workers)
	}
	if err := checkStart(&cfg, t.Start); err != nil {
		return nil, pipeline.Config{}, bad("%v", err)
	}
	if err := t.Spent.check(&cfg, t.Start); err != nil {
		return nil, pipeline.Config{}, bad("%v", err)
	}
	return &t, cfg, nil
}
