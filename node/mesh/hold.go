package mesh

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Bounds of the hold: what signers this node has not met can park here.
const (
	holdPerSigner = 256
	holdSigners   = 1024
	holdMaxAge    = 10 * time.Minute
)

// heldEnvelope is a gossip envelope refused only because its signer is not
// known here yet.
type heldEnvelope struct {
	raw   []byte
	from  peer.ID
	topic string
	at    time.Time
}

// hold keeps envelopes of signers not met yet, bounded per signer and in
// signers, and releases them when the signer becomes known (TrustChanged).
// Anti-entropy would bring them again anyway; holding saves the round. Its
// lock is a leaf.
type hold struct {
	mu    sync.Mutex
	m     map[string][]heldEnvelope
	order []string // signers, oldest first
}

func newHold() *hold { return &hold{m: map[string][]heldEnvelope{}} }

// put holds h for signer; false if it was not kept (the signer's share is
// full).
func (h *hold) put(signer string, e heldEnvelope) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	cur, known := h.m[signer]
	// Drop what is too old to be worth releasing.
	kept := cur[:0]
	for _, x := range cur {
		if e.at.Sub(x.at) < holdMaxAge {
			kept = append(kept, x)
		}
	}
	if len(kept) >= holdPerSigner {
		h.m[signer] = kept
		return false
	}
	if !known {
		h.order = append(h.order, signer)
		for len(h.order) > holdSigners {
			delete(h.m, h.order[0])
			h.order = h.order[1:]
		}
	}
	h.m[signer] = append(kept, e)
	return true
}

// take removes and returns what is held for signer.
func (h *hold) take(signer string) []heldEnvelope {
	h.mu.Lock()
	defer h.mu.Unlock()
	out, ok := h.m[signer]
	if !ok {
		return nil
	}
	delete(h.m, signer)
	for i, s := range h.order {
		if s == signer {
			h.order = append(h.order[:i], h.order[i+1:]...)
			break
		}
	}
	return out
}

// Held is the number of envelopes held.
func (r *Runtime) Held() int {
	r.hold.mu.Lock()
	defer r.hold.mu.Unlock()
	n := 0
	for _, es := range r.hold.m {
		n += len(es)
	}
	return n
}
