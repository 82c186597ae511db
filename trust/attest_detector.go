package trust

import (
	"bytes"
	"sync"
	"time"

	"github.com/web4p2p/web4p2p/protocols/envelope"
)

// DetectorConfig configures a Detector. Zero fields take defaults.
type DetectorConfig struct {
	// Window is how long an envelope is remembered (DefaultDetectorWindow).
	Window time.Duration
	// MaxBytes bounds the raw bytes remembered (DefaultDetectorBytes).
	MaxBytes int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Equivocation is what the Detector found: two envelopes validly signed by
// Subject that contradict, as their exact wire bytes — the proof other
// nodes check with VerifyProof.
type Equivocation struct {
	Subject           string
	Kind              Contradiction
	First, Second     []byte
	FirstID, SecondID string
}

// Payload builds the TRUST_ATTEST payload carrying this proof (see
// ProofAttestation).
func (e Equivocation) Payload() ([]byte, error) {
	return ProofAttestation(e.Subject, e.First, e.Second, e.FirstID, e.SecondID)
}

// Detector watches verified envelopes per signer and notices equivocation
// locally, so a node that receives both halves of a contradiction produces
// the proof itself (SPEC §5: "two valid signed envelopes that
// contradict"). Memory is bounded by a time window and a byte budget; the
// oldest envelopes are forgotten first. Safe for concurrent use; it starts
// no goroutines.
type Detector struct {
	window   time.Duration
	maxBytes int
	now      func() time.Time

	mu    sync.Mutex
	byID  map[string]*seen   // signer 0x00 msg_id → envelope
	votes map[string][]*seen // signer 0x00 fact_ref → recent votes, oldest first
	fifo  []*seen            // observation order; fifo[head:] alive
	head  int
	bytes int
}

type seen struct {
	idKey   string
	voteKey string
	env     *envelope.Envelope
	signed  []byte
	vote    voteFacts // valid when voteKey != ""
	at      time.Time
	dead    bool
}

// NewDetector returns a Detector.
func NewDetector(cfg DetectorConfig) *Detector {
	d := &Detector{window: cfg.Window, maxBytes: cfg.MaxBytes, now: cfg.Now,
		byID: map[string]*seen{}, votes: map[string][]*seen{}}
	if d.window <= 0 {
		d.window = DefaultDetectorWindow
	}
	if d.maxBytes <= 0 {
		d.maxBytes = DefaultDetectorBytes
	}
	if d.now == nil {
		d.now = time.Now
	}
	return d
}

// Observe records an envelope whose signature the caller has verified
// (Validator.Validate succeeded, or VerifyEvidence) and reports an
// equivocation if it contradicts one remembered from the same signer.
// An envelope without its wire bytes (Raw() == nil) cannot serve as proof
// and is ignored; an exact duplicate (gossip redelivery) changes nothing.
func (d *Detector) Observe(env *envelope.Envelope) *Equivocation {
	if env == nil || env.Raw() == nil {
		return nil
	}
	signed, err := env.SigningBytes()
	if err != nil {
		return nil
	}
	signer := env.Sender.Fingerprint
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	d.expireLocked(now)

	idKey := signer + "\x00" + env.MsgID
	if prev := d.byID[idKey]; prev != nil {
		if bytes.Equal(prev.signed, signed) {
			return nil // the same message again
		}
		return equivocation(prev.env, env, SameMsgID)
	}
	s := &seen{idKey: idKey, env: env, signed: signed, at: now}
	if vf, ok := voteOf(env); ok {
		s.voteKey, s.vote = signer+"\x00"+vf.ref, vf
		list := d.liveVotes(s.voteKey)
		for _, p := range list {
			// Cheap pre-check on the cached polarity and time; Contradicts
			// (which re-reads both payloads) confirms.
			if p.vote.confirm == vf.confirm || timeAbs(p.env.Timestamp.Sub(env.Timestamp)) > EquivocationWindow {
				continue
			}
			if c := Contradicts(p.env, env); c.Valid() {
				return equivocation(p.env, env, c)
			}
		}
		list = append(list, s)
		if len(list) > maxVotesPerRef {
			list[0].dead = true
			list = list[1:]
		}
		d.votes[s.voteKey] = list
	}
	d.byID[idKey] = s
	d.fifo = append(d.fifo, s)
	d.bytes += len(env.Raw())
	for d.bytes > d.maxBytes && d.head < len(d.fifo) {
		d.popLocked()
	}
	return nil
}

// Len is the number of envelopes remembered.
func (d *Detector) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.byID)
}

func equivocation(first, second *envelope.Envelope, c Contradiction) *Equivocation {
	return &Equivocation{Subject: second.Sender.Fingerprint, Kind: c,
		First: first.Raw(), Second: second.Raw(), FirstID: first.MsgID, SecondID: second.MsgID}
}

// liveVotes returns the live votes under key, dropping dead ones.
func (d *Detector) liveVotes(key string) []*seen {
	list := d.votes[key]
	out := list[:0]
	for _, s := range list {
		if !s.dead {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		delete(d.votes, key)
		return nil
	}
	d.votes[key] = out
	return out
}

func (d *Detector) expireLocked(now time.Time) {
	cutoff := now.Add(-d.window)
	for d.head < len(d.fifo) && d.fifo[d.head].at.Before(cutoff) {
		d.popLocked()
	}
}

func (d *Detector) popLocked() {
	s := d.fifo[d.head]
	d.fifo[d.head] = nil
	d.head++
	s.dead = true
	d.bytes -= len(s.env.Raw())
	if d.byID[s.idKey] == s {
		delete(d.byID, s.idKey)
	}
	if s.voteKey != "" {
		d.liveVotes(s.voteKey)
	}
	if d.head > 1024 && d.head*2 > len(d.fifo) {
		d.fifo = append([]*seen(nil), d.fifo[d.head:]...)
		d.head = 0
	}
}
