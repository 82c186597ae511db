package trust

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/web4p2p/web4p2p/protocols/envelope"
)

// Attested is one attester's statement about a subject, as the
// AttestationBook keeps it.
type Attested struct {
	Attester string `json:"attester"`
	View     State  `json:"view"`
	Reason   string `json:"reason"`
	// MsgID is the TRUST_ATTEST envelope's msg_id (the cause recorded on
	// any transition it triggers).
	MsgID string `json:"msg_id"`
	// At is the TRUST_ATTEST envelope's timestamp.
	At time.Time `json:"at"`
}

// BucketAttestations is the AttestationBook's bucket in the ledger's store:
// subject 0x00 attester → JSON Attested (the attester's latest statement).
const BucketAttestations = "trust.attestations"

// supersedes orders two attestations of one attester: later At wins, then
// the greater msg_id, so the latest statement is well defined whatever
// order gossip delivers them in.
func (a Attested) supersedes(b Attested) bool {
	if !a.At.Equal(b.At) {
		return a.At.After(b.At)
	}
	return a.MsgID > b.MsgID
}

// Vouches reports whether the attestation vouches for its subject: view
// trusted, or view probing with reason ReasonVouch.
func (a Attested) Vouches() bool {
	return a.View == Trusted || (a.View == Probing && a.Reason == ReasonVouch)
}

// AttestTally is the outcome of TallyAttestations. Lists are sorted.
type AttestTally struct {
	// Accusers are the trusted attesters whose latest statement is
	// "blacklisted".
	Accusers []string
	// Vouchers are the trusted attesters whose latest statement vouches.
	Vouchers []string
	// Ignored counts statements that did not count: attester not trusted,
	// attester = subject, or older than ttl.
	Ignored int
}

// TallyAttestations is the pure rule for attestations without proof (SPEC
// §5 propagation): per attester only the latest statement counts; it counts
// only if view(attester) is trusted, the attester is not the subject
// itself, and it is not older than ttl at now (ttl ≤ 0: no age limit). The
// result does not depend on the order of atts.
func TallyAttestations(subject string, atts []Attested, view func(fp string) State, now time.Time, ttl time.Duration) AttestTally {
	latest := map[string]Attested{}
	for _, a := range atts {
		if cur, ok := latest[a.Attester]; !ok || a.supersedes(cur) {
			latest[a.Attester] = a
		}
	}
	t := AttestTally{Accusers: []string{}, Vouchers: []string{}}
	for who, a := range latest {
		if who == subject || view == nil || view(who) != Trusted || (ttl > 0 && now.Sub(a.At) > ttl) {
			t.Ignored++
			continue
		}
		switch {
		case a.View == Blacklisted:
			t.Accusers = append(t.Accusers, who)
		case a.Vouches():
			t.Vouchers = append(t.Vouchers, who)
		}
	}
	sort.Strings(t.Accusers)
	sort.Strings(t.Vouchers)
	return t
}

// Outcome is what the AttestationBook did with one attestation. The zero
// value is invalid.
type Outcome uint8

// Outcomes of AttestationBook.Record.
const (
	// Ignored: the attester is not trusted here, or attests about itself.
	Ignored Outcome = iota + 1
	// Counted: recorded; no quorum (or no change) yet.
	Counted
	// MadeUntrusted: quorum of trusted accusers reached; the subject was
	// moved to untrusted (AttestedUntrusted).
	MadeUntrusted
	// VouchApplied: a trusted peer vouched; the subject's next valid
	// handshake skips the cooldown (Vouched).
	VouchApplied
	// ProofApplied: the attestation carried a proof that verified; the
	// subject is blacklisted (Handle only).
	ProofApplied
)

var outcomeNames = [...]string{Ignored: "ignored", Counted: "counted", MadeUntrusted: "made_untrusted", VouchApplied: "vouch_applied", ProofApplied: "proof_applied"}

// Valid reports whether o is defined.
func (o Outcome) Valid() bool { return o >= Ignored && o <= ProofApplied }

// String returns the snake_case name or "invalid(N)".
func (o Outcome) String() string {
	if !o.Valid() {
		return fmt.Sprintf("invalid(%d)", uint8(o))
	}
	return outcomeNames[o]
}

// EventAttestation is emitted for every attestation the book records or
// ignores.
const EventAttestation = "web4.trust.attestation"

// BookConfig configures an AttestationBook. Zero fields take defaults.
type BookConfig struct {
	// Quorum distinct trusted accusers make a subject untrusted
	// (DefaultAttestQuorum).
	Quorum int
	// TTL is how long a statement counts (DefaultAttestTTL).
	TTL time.Duration
}

// AttestationBook counts attestations without proof, per subject, from the
// peers this node trusts, and applies the SPEC §5 propagation rules through
// the Ledger: ≥Quorum trusted attesters saying "blacklisted" → the subject
// becomes untrusted here (AttestedUntrusted); a trusted peer vouching →
// Vouched, so the subject's next valid handshake skips the cooldown.
//
// The statements from trusted attesters are kept in memory and in the
// ledger's store (BucketAttestations), so an accusation heard before a
// restart still adds up with one heard after it; they are bounded by
// MaxAttestSubjects and MaxAttestersPerSubject and stop counting after TTL
// (dropped from disk at the next open). What they cause is a ledger
// transition or flag, persisted like any other. Safe for concurrent use;
// no goroutines.
type AttestationBook struct {
	l      *Ledger
	quorum int
	ttl    time.Duration

	mu       sync.Mutex
	subjects map[string]map[string]Attested // subject → attester → latest
}

// OpenAttestationBook returns a book acting on l (whose clock and store it
// uses), loading the statements persisted before and dropping those older
// than the TTL.
func OpenAttestationBook(l *Ledger, cfg BookConfig) (*AttestationBook, error) {
	if l == nil {
		return nil, errors.New("trust: OpenAttestationBook: nil ledger")
	}
	b := &AttestationBook{l: l, quorum: cfg.Quorum, ttl: cfg.TTL, subjects: map[string]map[string]Attested{}}
	if b.quorum <= 0 {
		b.quorum = DefaultAttestQuorum
	}
	if b.ttl <= 0 {
		b.ttl = DefaultAttestTTL
	}
	now := l.now().UTC()
	var stale [][]byte
	err := l.db.ForEach(BucketAttestations, func(k, v []byte) error {
		var a Attested
		if err := json.Unmarshal(v, &a); err != nil {
			return fmt.Errorf("trust: attestation %q corrupt: %w", k, err)
		}
		subject, attester, ok := strings.Cut(string(k), "\x00")
		if !ok || attester != a.Attester {
			return fmt.Errorf("trust: attestation key %q does not match its record", k)
		}
		if now.Sub(a.At) > b.ttl || len(b.subjects) >= MaxAttestSubjects && b.subjects[subject] == nil {
			stale = append(stale, append([]byte(nil), k...))
			return nil
		}
		m := b.subjects[subject]
		if m == nil {
			m = map[string]Attested{}
			b.subjects[subject] = m
		}
		m[attester] = a
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(stale) > 0 {
		if err := b.write(nil, stale); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// write stores puts and deletes keys in one transaction.
func (b *AttestationBook) write(puts map[string]Attested, dels [][]byte) error {
	return b.l.db.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists([]byte(BucketAttestations))
		if err != nil {
			return err
		}
		for _, k := range dels {
			if err := bk.Delete(k); err != nil {
				return err
			}
		}
		for k, a := range puts {
			v, err := json.Marshal(a)
			if err != nil {
				return err
			}
			if err := bk.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	})
}

func attestKey(subject, attester string) string { return subject + "\x00" + attester }

// ErrInvalidAttester: Record was given an attester that is not a fingerprint.
var ErrInvalidAttester = errors.New("trust: invalid attester")

// Record takes one verified TRUST_ATTEST without proof: attester is the
// verified envelope signer, msgID and at its msg_id and timestamp, a its
// decoded payload. Attestations carrying a proof go to ApplyProof instead
// (they need no quorum). Only attesters this node trusts count; everything
// else is Ignored (and not remembered: trust later gained does not revive
// an accusation made before it).
func (b *AttestationBook) Record(attester, msgID string, at time.Time, a Attestation) (Outcome, error) {
	if err := CheckFingerprint(attester); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalidAttester, err)
	}
	if err := CheckFingerprint(a.Subject); err != nil {
		return 0, fmt.Errorf("%w: subject: %w", ErrInvalidAttestation, err)
	}
	if !a.View.Valid() {
		return 0, fmt.Errorf("%w: view: %v", ErrInvalidAttestation, a.View)
	}
	if len(msgID) > maxCauseLen || !utf8.ValidString(msgID) {
		return 0, fmt.Errorf("%w: msg_id: at most %d bytes of UTF-8", ErrInvalidCause, maxCauseLen)
	}
	st := Attested{Attester: attester, View: a.View, Reason: a.Reason, MsgID: msgID, At: at.UTC()}
	if attester == a.Subject || b.l.State(attester) != Trusted {
		b.emit(st, a.Subject, Ignored, AttestTally{})
		return Ignored, nil
	}
	now := b.l.now().UTC()

	b.mu.Lock()
	var dels [][]byte
	m := b.subjects[a.Subject]
	if m == nil {
		if len(b.subjects) >= MaxAttestSubjects {
			dels = append(dels, b.evictOldestLocked()...)
		}
		m = map[string]Attested{}
		b.subjects[a.Subject] = m
	}
	if cur, ok := m[attester]; !ok || st.supersedes(cur) {
		if !ok && len(m) >= MaxAttestersPerSubject {
			dels = append(dels, []byte(attestKey(a.Subject, dropOldest(m))))
		}
		m[attester] = st
		// Written under the lock so disk and memory agree on the order of
		// concurrent statements; attestations are rare.
		if err := b.write(map[string]Attested{attestKey(a.Subject, attester): st}, dels); err != nil {
			b.mu.Unlock()
			b.l.em.Error("trust", "persist_failed", a.Subject, err, nil)
			return 0, err
		}
	}
	atts := make([]Attested, 0, len(m))
	for _, x := range m {
		atts = append(atts, x)
	}
	latest := m[attester]
	b.mu.Unlock()

	tally := TallyAttestations(a.Subject, atts, b.l.State, now, b.ttl)
	out := Counted
	switch {
	case latest.View == Blacklisted && len(tally.Accusers) >= b.quorum:
		tr, err := b.l.Apply(a.Subject, AttestedUntrusted, msgID)
		if err != nil {
			return 0, err
		}
		if tr != nil {
			out = MadeUntrusted
		}
	case latest.Vouches() && contains(tally.Vouchers, attester):
		before, _ := b.l.Peer(a.Subject)
		if _, err := b.l.Apply(a.Subject, Vouched, msgID); err != nil {
			return 0, err
		}
		if after, _ := b.l.Peer(a.Subject); after.Vouched && !before.Vouched {
			out = VouchApplied
		}
	}
	b.emit(st, a.Subject, out, tally)
	return out, nil
}

// Handle is the single entry point for a verified TRUST_ATTEST envelope
// (the node's /web4/trust/1.0 topic handler calls it): deliverer is the
// authenticated peer it came from, attester the envelope's verified signer,
// msgID and at its msg_id and timestamp, payload its payload.
//
// A payload embedding two or more envelopes is a proof attempt and goes to
// ApplyProof: a valid proof blacklists the subject whoever attests it
// (ProofApplied); an invalid one charges the attester and returns the
// error (ErrInvalidProof). Anything else is an attestation without proof
// and goes to Record. verify checks embedded envelopes (nil:
// VerifyEvidence).
func (b *AttestationBook) Handle(deliverer, attester, msgID string, at time.Time, payload []byte, verify func([]byte) (*envelope.Envelope, error)) (Outcome, error) {
	a, err := ParseAttestation(payload)
	if err != nil {
		b.l.em.Error("trust", "invalid_attestation", deliverer, err, map[string]any{"msg_id": msgID})
		if _, aerr := b.l.Apply(deliverer, InvalidMessage, msgID); aerr != nil {
			return 0, errors.Join(err, aerr)
		}
		return 0, err
	}
	return b.HandleParsed(deliverer, attester, msgID, at, a, payload, verify)
}

// HandleParsed is Handle for a payload the caller has already parsed with
// ParseAttestation (a is its result), so the node parses each attestation
// once on its receive path.
func (b *AttestationBook) HandleParsed(deliverer, attester, msgID string, at time.Time, a Attestation, payload []byte, verify func([]byte) (*envelope.Envelope, error)) (Outcome, error) {
	embedded := 0
	for _, e := range a.Evidence {
		if e.Envelope != nil {
			embedded++
		}
	}
	if embedded >= 2 {
		_, _, err := ApplyProof(b.l, attester, msgID, payload, verify)
		if err != nil {
			return 0, err
		}
		return ProofApplied, nil
	}
	return b.Record(attester, msgID, at, a)
}

// Statements returns the remembered latest statement of every attester
// about subject, sorted by attester.
func (b *AttestationBook) Statements(subject string) []Attested {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Attested, 0, len(b.subjects[subject]))
	for _, a := range b.subjects[subject] {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Attester < out[j].Attester })
	return out
}

func (b *AttestationBook) emit(st Attested, subject string, out Outcome, t AttestTally) {
	var causes []string
	if st.MsgID != "" {
		causes = []string{st.MsgID}
	}
	b.l.em.Emit(EventAttestation, subject, map[string]any{
		"subject":  subject,
		"attester": st.Attester,
		"view":     st.View.String(),
		"reason":   clipReason(st.Reason),
		"msg_id":   st.MsgID,
		"outcome":  out.String(),
		"accusers": len(t.Accusers),
		"vouchers": len(t.Vouchers),
	}, causes...)
}

// evictOldestLocked drops the subject whose newest statement is oldest and
// returns the store keys to delete.
func (b *AttestationBook) evictOldestLocked() [][]byte {
	var victim string
	var oldest time.Time
	first := true
	for s, m := range b.subjects {
		var newest time.Time
		for _, a := range m {
			if a.At.After(newest) {
				newest = a.At
			}
		}
		if first || newest.Before(oldest) || (newest.Equal(oldest) && s < victim) {
			victim, oldest, first = s, newest, false
		}
	}
	var keys [][]byte
	for attester := range b.subjects[victim] {
		keys = append(keys, []byte(attestKey(victim, attester)))
	}
	delete(b.subjects, victim)
	return keys
}

// dropOldest removes the oldest statement of m and returns its attester.
func dropOldest(m map[string]Attested) string {
	var victim string
	first := true
	for k, a := range m {
		if first || m[victim].supersedes(a) || (a.At.Equal(m[victim].At) && a.MsgID == m[victim].MsgID && k < victim) {
			victim, first = k, false
		}
	}
	delete(m, victim)
	return victim
}

func contains(sorted []string, s string) bool {
	i := sort.SearchStrings(sorted, s)
	return i < len(sorted) && sorted[i] == s
}

func clipReason(s string) string {
	const n = 256
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
