package trust

import (
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/protocols/envelope"
)

func TestDetectorFindsEquivocation(t *testing.T) {
	clk := &clock{t: at0}
	d := NewDetector(DetectorConfig{Now: clk.Now})
	confirm := mustParseEnv(t, voteEnv(t, malloryKey, "confirm", factRef, msgID(1), at0))
	other := mustParseEnv(t, voteEnv(t, malloryKey, "confirm", factRef2, msgID(2), at0))
	aliceR := mustParseEnv(t, voteEnv(t, aliceKeyT, "reject", factRef, msgID(3), at0))
	for _, e := range []*envelope.Envelope{confirm, other, aliceR, confirm} {
		if eq := d.Observe(e); eq != nil {
			t.Fatalf("false positive on %s: %+v", e.MsgID, eq)
		}
	}
	reject := mustParseEnv(t, voteEnv(t, malloryKey, "reject", factRef, msgID(4), at0.Add(200*time.Millisecond)))
	eq := d.Observe(reject)
	if eq == nil || eq.Subject != malloryFP || eq.Kind != OppositeVotes || eq.FirstID != msgID(1) || eq.SecondID != msgID(4) {
		t.Fatalf("equivocation: %+v", eq)
	}
	// The detector's output is a proof every other node accepts.
	payload, err := eq.Payload()
	if err != nil {
		t.Fatal(err)
	}
	p, err := VerifyProof(payload, nil)
	if err != nil || p.Subject != malloryFP {
		t.Fatalf("detector proof rejected: %v", err)
	}

	// Same msg_id with other content.
	reuse := mustParseEnv(t, voteEnv(t, malloryKey, "confirm", factRef2, msgID(2), at0.Add(time.Second)))
	if eq := d.Observe(reuse); eq == nil || eq.Kind != SameMsgID {
		t.Fatalf("msg_id reuse: %+v", eq)
	}
	// A change of mind after the window is not equivocation.
	later := mustParseEnv(t, voteEnv(t, malloryKey, "reject", factRef2, msgID(5), at0.Add(time.Minute)))
	if eq := d.Observe(later); eq != nil {
		t.Fatalf("change of mind flagged: %+v", eq)
	}
	// Envelopes without wire bytes cannot be proof and are ignored.
	if d.Observe(&envelope.Envelope{}) != nil || d.Observe(nil) != nil {
		t.Fatal("raw-less envelope")
	}
}

func TestDetectorForgetsAndIsBounded(t *testing.T) {
	clk := &clock{t: at0}
	d := NewDetector(DetectorConfig{Now: clk.Now, Window: time.Minute})
	confirm := mustParseEnv(t, voteEnv(t, malloryKey, "confirm", factRef, msgID(1), at0))
	d.Observe(confirm)
	clk.Advance(2 * time.Minute)
	reject := mustParseEnv(t, voteEnv(t, malloryKey, "reject", factRef, msgID(2), at0))
	if eq := d.Observe(reject); eq != nil {
		t.Fatal("remembered beyond the window")
	}
	if d.Len() != 1 {
		t.Fatalf("len %d after expiry", d.Len())
	}

	// Byte budget: only about two envelopes fit.
	size := len(confirm.Raw())
	d = NewDetector(DetectorConfig{Now: clk.Now, MaxBytes: 2*size + size/2})
	for i := 0; i < 50; i++ {
		d.Observe(mustParseEnv(t, voteEnv(t, malloryKey, "confirm", factRef, msgID(10+i), clk.Now())))
		if n := d.Len(); n > 2 {
			t.Fatalf("budget exceeded: %d envelopes", n)
		}
	}
	// Per (signer, fact) only maxVotesPerRef votes are compared; memory
	// stays bounded under a flood of confirmations.
	d = NewDetector(DetectorConfig{Now: clk.Now})
	for i := 0; i < 3*maxVotesPerRef; i++ {
		d.Observe(mustParseEnv(t, voteEnv(t, malloryKey, "confirm", factRef, msgID(100+i), clk.Now())))
	}
	d.mu.Lock()
	n := len(d.votes[malloryFP+"\x00"+factRef])
	d.mu.Unlock()
	if n != maxVotesPerRef {
		t.Fatalf("%d votes kept, want %d", n, maxVotesPerRef)
	}
	// The newest are kept, so a fresh contradiction is still caught.
	r := mustParseEnv(t, voteEnv(t, malloryKey, "reject", factRef, msgID(999), clk.Now()))
	if d.Observe(r) == nil {
		t.Fatal("contradiction with a recent vote missed")
	}
}

func openBook(t *testing.T, h *harness, cfg BookConfig) *AttestationBook {
	t.Helper()
	b, err := OpenAttestationBook(h.l, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTallyAttestations(t *testing.T) {
	view := func(fp string) State {
		switch fp {
		case "t1", "t2", "t3":
			return Trusted
		case "p1":
			return Probing
		case "x1":
			return Untrusted
		}
		return Unknown
	}
	bl := func(who string, at time.Duration, id string) Attested {
		return Attested{Attester: who, View: Blacklisted, MsgID: id, At: at0.Add(at)}
	}
	vouch := func(who string, view State, reason string) Attested {
		return Attested{Attester: who, View: view, Reason: reason, MsgID: "v-" + who, At: at0}
	}
	cases := []struct {
		name               string
		atts               []Attested
		accusers, vouchers string
		ignored            int
	}{
		{"two trusted accusers", []Attested{bl("t1", 0, "a"), bl("t2", 0, "b")}, "t1,t2", "", 0},
		{"untrusted accusers ignored", []Attested{bl("t1", 0, "a"), bl("p1", 0, "b"), bl("x1", 0, "c"), bl("u9", 0, "d")}, "t1", "", 3},
		{"subject cannot accuse itself", []Attested{bl("subj", 0, "a"), bl("t1", 0, "b")}, "t1", "", 1},
		{"duplicates count once", []Attested{bl("t1", 0, "a"), bl("t1", time.Second, "b"), bl("t1", 0, "a")}, "t1", "", 0},
		{"latest statement wins", []Attested{bl("t1", 0, "a"), {Attester: "t1", View: Trusted, MsgID: "b", At: at0.Add(time.Minute)}}, "", "t1", 0},
		{"older statement arriving later loses", []Attested{{Attester: "t1", View: Trusted, MsgID: "b", At: at0.Add(time.Minute)}, bl("t1", 0, "a")}, "", "t1", 0},
		{"expired statement", []Attested{bl("t1", -2*time.Hour, "a"), bl("t2", 0, "b")}, "t2", "", 1},
		{"vouch by trusted view", []Attested{vouch("t1", Trusted, "")}, "", "t1", 0},
		{"vouch by probing+reason", []Attested{vouch("t2", Probing, ReasonVouch)}, "", "t2", 0},
		{"probing without reason is no vouch", []Attested{vouch("t2", Probing, "met once")}, "", "", 0},
		{"untrusted voucher ignored", []Attested{vouch("p1", Trusted, "")}, "", "", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for round := 0; round < 5; round++ {
				atts := append([]Attested(nil), c.atts...)
				rand.New(rand.NewSource(int64(round))).Shuffle(len(atts), func(i, j int) { atts[i], atts[j] = atts[j], atts[i] })
				got := TallyAttestations("subj", atts, view, at0, time.Hour)
				if strings.Join(got.Accusers, ",") != c.accusers || strings.Join(got.Vouchers, ",") != c.vouchers || got.Ignored != c.ignored {
					t.Fatalf("order %d: %+v", round, got)
				}
			}
		})
	}
}

func TestAttestationBookQuorum(t *testing.T) {
	h := openAttestHarness(t)
	t1, t2, t3 := strings.Repeat("1", 64), strings.Repeat("2", 64), strings.Repeat("3", 64)
	probing := strings.Repeat("4", 64)
	for _, fp := range []string{t1, t2, t3} {
		mustApply(t, h.l, fp, Anchor, "anchor")
	}
	mustApply(t, h.l, probing, ValidHandshake, "hs")
	mustApply(t, h.l, malloryFP, Anchor, "anchor") // even a trusted subject falls
	b := openBook(t, h, BookConfig{})
	accuse := Attestation{Subject: malloryFP, View: Blacklisted, Reason: "spam"}

	record := func(who, id string) Outcome {
		t.Helper()
		out, err := b.Record(who, id, h.clk.Now(), accuse)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if out := record(probing, msgID(1)); out != Ignored {
		t.Fatalf("probing attester: %v", out)
	}
	if out := record(malloryFP, msgID(2)); out != Ignored {
		t.Fatalf("self attestation: %v", out)
	}
	if out := record(t1, msgID(3)); out != Counted || h.l.State(malloryFP) != Trusted {
		t.Fatalf("one trusted attester is not enough: %v %v", out, h.l.State(malloryFP))
	}
	if out := record(t1, msgID(4)); out != Counted || h.l.State(malloryFP) != Trusted {
		t.Fatalf("the same attester twice is still one: %v", out)
	}
	if out := record(t2, msgID(5)); out != MadeUntrusted || h.l.State(malloryFP) != Untrusted {
		t.Fatalf("two trusted attesters: %v %v", out, h.l.State(malloryFP))
	}
	hist, err := h.l.History(malloryFP)
	if err != nil || hist[len(hist)-1].Event != AttestedUntrusted || hist[len(hist)-1].Cause != msgID(5) {
		t.Fatalf("history %+v %v", hist, err)
	}
	if out := record(t3, msgID(6)); out != Counted {
		t.Fatalf("third accuser after the fact: %v", out)
	}
	if _, ok := h.ring.WaitFor(nil, func(e events.Event) bool {
		return e.Type == EventAttestation && e.Data["outcome"] == "made_untrusted" && e.Data["accusers"] == 2
	}); !ok {
		t.Fatal("no attestation event")
	}
	if n := len(b.Statements(malloryFP)); n != 3 {
		t.Fatalf("%d statements kept, want 3 (untrusted ones are not)", n)
	}

	// Accusations expire: two accusers an hour apart do not add up.
	h2 := openAttestHarness(t)
	for _, fp := range []string{t1, t2} {
		mustApply(t, h2.l, fp, Anchor, "anchor")
	}
	mustApply(t, h2.l, carolFP, ValidHandshake, "hs")
	b2 := openBook(t, h2, BookConfig{TTL: time.Hour})
	if out, _ := b2.Record(t1, msgID(1), h2.clk.Now(), Attestation{Subject: carolFP, View: Blacklisted}); out != Counted {
		t.Fatal(out)
	}
	h2.clk.Advance(2 * time.Hour)
	if out, _ := b2.Record(t2, msgID(2), h2.clk.Now(), Attestation{Subject: carolFP, View: Blacklisted}); out != Counted || h2.l.State(carolFP) != Probing {
		t.Fatalf("expired accusation counted: %v", out)
	}

	// Bad input is refused with a typed error.
	if _, err := b.Record("nope", msgID(1), at0, accuse); !errors.Is(err, ErrInvalidAttester) {
		t.Fatal(err)
	}
	if _, err := b.Record(t1, msgID(1), at0, Attestation{Subject: "x", View: Blacklisted}); !errors.Is(err, ErrInvalidAttestation) {
		t.Fatal(err)
	}
	if _, err := b.Record(t1, msgID(1), at0, Attestation{Subject: malloryFP}); !errors.Is(err, ErrInvalidAttestation) {
		t.Fatal(err)
	}
}

// TestVouchSkipsCooldown: a newcomer that failed a handshake waits out the
// cooldown — unless a trusted peer vouches for it; then its next valid
// handshake moves it to probing at once. Also across a restart, since the
// vouch is kept by the ledger.
func TestVouchSkipsCooldown(t *testing.T) {
	h := openAttestHarness(t)
	voucher, stranger := strings.Repeat("1", 64), strings.Repeat("4", 64)
	mustApply(t, h.l, voucher, Anchor, "anchor")
	mustApply(t, h.l, stranger, ValidHandshake, "hs")
	newcomer := carolFP
	mustApply(t, h.l, newcomer, BadSignature, "bad-hello")
	if tr := mustApply(t, h.l, newcomer, ValidHandshake, "hs-1"); tr != nil || h.l.State(newcomer) != Untrusted {
		t.Fatal("cooldown not in force")
	}
	b := openBook(t, h, BookConfig{})
	// A probing peer's vouch means nothing.
	if out, err := b.Record(stranger, msgID(1), at0, Attestation{Subject: newcomer, View: Trusted}); err != nil || out != Ignored {
		t.Fatalf("untrusted voucher: %v %v", out, err)
	}
	if tr := mustApply(t, h.l, newcomer, ValidHandshake, "hs-2"); tr != nil {
		t.Fatal("untrusted vouch skipped the cooldown")
	}
	out, err := b.Record(voucher, msgID(2), at0, Attestation{Subject: newcomer, View: Probing, Reason: ReasonVouch})
	if err != nil || out != VouchApplied {
		t.Fatalf("vouch: %v %v", out, err)
	}
	if _, over := h.l.Standing(newcomer); !over {
		t.Fatal("vouch did not lift the cooldown")
	}
	// Restart: the vouch is persisted with the peer.
	if err := h.db.Close(); err != nil {
		t.Fatal(err)
	}
	h2 := openHarness(t, h.path, h.clk)
	tr := mustApply(t, h2.l, newcomer, ValidHandshake, "hs-3")
	if tr == nil || tr.From != Untrusted || tr.To != Probing {
		t.Fatalf("vouched handshake: %+v", tr)
	}
	if ps, _ := h2.l.Peer(newcomer); ps.Vouched {
		t.Fatal("vouch not consumed on entering probing")
	}
}

func ExampleTallyAttestations() {
	view := func(fp string) State {
		if fp == "alice" || fp == "bob" {
			return Trusted
		}
		return Probing
	}
	atts := []Attested{
		{Attester: "alice", View: Blacklisted, MsgID: "1", At: at0},
		{Attester: "bob", View: Blacklisted, MsgID: "2", At: at0},
		{Attester: "eve", View: Blacklisted, MsgID: "3", At: at0},
	}
	t := TallyAttestations("mallory", atts, view, at0, time.Hour)
	fmt.Println(t.Accusers, t.Ignored)
	// Output: [alice bob] 1
}

// TestAttestationBookSurvivesRestart: one accusation before a restart and
// one after add up to the quorum; statements past the TTL are dropped from
// disk when the book is opened.
func TestAttestationBookSurvivesRestart(t *testing.T) {
	h := openAttestHarness(t)
	t1, t2, t3 := strings.Repeat("1", 64), strings.Repeat("2", 64), strings.Repeat("3", 64)
	for _, fp := range []string{t1, t2, t3} {
		mustApply(t, h.l, fp, Anchor, "anchor")
	}
	mustApply(t, h.l, malloryFP, ValidHandshake, "hs")
	mustApply(t, h.l, carolFP, ValidHandshake, "hs")
	b := openBook(t, h, BookConfig{})
	if out, err := b.Record(t1, msgID(1), h.clk.Now(), Attestation{Subject: malloryFP, View: Blacklisted}); err != nil || out != Counted {
		t.Fatalf("%v %v", out, err)
	}
	h.clk.Advance(30 * time.Minute)
	if out, err := b.Record(t3, msgID(2), h.clk.Now(), Attestation{Subject: carolFP, View: Blacklisted}); err != nil || out != Counted {
		t.Fatalf("%v %v", out, err)
	}
	if err := h.db.Close(); err != nil {
		t.Fatal(err)
	}
	h.clk.Advance(45 * time.Minute) // the first statement is now 75 min old
	h2 := openHarness(t, h.path, h.clk)
	b2 := openBook(t, h2, BookConfig{})
	if n := len(b2.Statements(malloryFP)); n != 0 {
		t.Fatalf("stale statement loaded: %d", n)
	}
	if got := b2.Statements(carolFP); len(got) != 1 || got[0].Attester != t3 || got[0].MsgID != msgID(2) {
		t.Fatalf("statement lost on restart: %+v", got)
	}
	if out, err := b2.Record(t2, msgID(3), h.clk.Now(), Attestation{Subject: carolFP, View: Blacklisted}); err != nil || out != MadeUntrusted {
		t.Fatalf("quorum across restart: %v %v", out, err)
	}
	// The stale record is gone from disk, not just skipped.
	n := 0
	if err := h2.db.ForEach(BucketAttestations, func(k, v []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("%d records on disk, want 2", n)
	}
}

// TestHandleRoutesAttestations: one entry point sends proofs to
// ApplyProof and everything else to the book.
func TestHandleRoutesAttestations(t *testing.T) {
	h := openAttestHarness(t)
	t1, t2, relay := strings.Repeat("1", 64), strings.Repeat("2", 64), strings.Repeat("5", 64)
	for _, fp := range []string{t1, t2, relay} {
		mustApply(t, h.l, fp, Anchor, "anchor")
	}
	mustApply(t, h.l, malloryFP, ValidHandshake, "hs")
	mustApply(t, h.l, carolFP, ValidHandshake, "hs")
	b := openBook(t, h, BookConfig{})

	accuse := attestPayload(t, carolFP, Blacklisted, "spam")
	if out, err := b.Handle(relay, t1, msgID(1), at0, accuse, nil); err != nil || out != Counted {
		t.Fatalf("no proof: %v %v", out, err)
	}
	if out, err := b.Handle(relay, t2, msgID(2), at0, accuse, nil); err != nil || out != MadeUntrusted {
		t.Fatalf("second accuser: %v %v", out, err)
	}
	// A proof counts even from a probing attester: the receiver checked it.
	c := voteEnv(t, malloryKey, "confirm", factRef, msgID(3), at0)
	r := voteEnv(t, malloryKey, "reject", factRef, msgID(4), at0)
	if out, err := b.Handle(relay, carolFP, msgID(5), at0, attestPayload(t, malloryFP, Blacklisted, ReasonEquivocation, c, r), nil); err != nil || out != ProofApplied {
		t.Fatalf("proof: %v %v", out, err)
	}
	if h.l.State(malloryFP) != Blacklisted {
		t.Fatal("not blacklisted")
	}
	// A forged proof (mallory's envelopes offered as carol's): error; the
	// attester t1, who signed it, is blacklisted for forged evidence; the
	// relay and the subject are untouched.
	forged := attestPayload(t, carolFP, Blacklisted, ReasonEquivocation, c, r)
	if _, err := b.Handle(relay, t1, msgID(6), at0, forged, nil); !errors.Is(err, ErrWrongSigner) {
		t.Fatalf("forged: %v", err)
	}
	if h.l.State(relay) != Trusted || h.l.State(carolFP) != Untrusted || h.l.State(t1) != Blacklisted {
		t.Fatalf("relay %v, subject %v, attester %v", h.l.State(relay), h.l.State(carolFP), h.l.State(t1))
	}
	// Garbage: error, the deliverer is charged.
	if _, err := b.Handle(t2, t2, msgID(7), at0, []byte(`{"subject":1}`), nil); !errors.Is(err, ErrInvalidAttestation) || h.l.State(t2) != Probing {
		t.Fatalf("garbage: %v, %v", err, h.l.State(t2))
	}
	if ProofApplied.String() != "proof_applied" || Outcome(0).Valid() || Outcome(42).String() != "invalid(42)" {
		t.Fatal("Outcome enum")
	}
}

// TestEquivocationEndToEnd: node A's validator accepts both of mallory's
// contradicting gossip votes, its Detector produces the proof, A seals it
// in a TRUST_ATTEST; node B runs the full SPEC §3.3 validation on that
// envelope (payload schema included) and blacklists mallory on its own
// authority, without ever having seen the votes.
func TestEquivocationEndToEnd(t *testing.T) {
	nodeAKey := seedKey("node-a")
	nodeAFP := keyFP(nodeAKey)
	now := func() time.Time { return at0 }
	valA := envelope.NewValidator(envelope.Config{Now: now, LocalFingerprint: keyFP(seedKey("a-local")), Gossip: true})
	det := NewDetector(DetectorConfig{Now: now})
	var eq *Equivocation
	for i, kind := range []string{"confirm", "reject"} {
		env, err := valA.Validate(voteEnv(t, malloryKey, kind, factRef, msgID(10+i), at0))
		if err != nil {
			t.Fatal(err)
		}
		eq = det.Observe(env)
	}
	if eq == nil {
		t.Fatal("no equivocation detected")
	}
	payload, err := eq.Payload()
	if err != nil {
		t.Fatal(err)
	}
	attest := sealed(t, nodeAKey, envelope.TrustAttest, msgID(50), at0, string(payload))

	h := openAttestHarness(t)
	mustApply(t, h.l, malloryFP, ValidHandshake, "hs")
	mustApply(t, h.l, nodeAFP, ValidHandshake, "hs") // only probing: a proof needs no trust
	valB := envelope.NewValidator(envelope.Config{Now: now, LocalFingerprint: keyFP(seedKey("b-local")), Gossip: true})
	env, err := valB.Validate(attest)
	if err != nil {
		t.Fatalf("TRUST_ATTEST refused by B: %v", err)
	}
	b := openBook(t, h, BookConfig{})
	out, err := b.Handle(nodeAFP, env.Sender.Fingerprint, env.MsgID, env.Timestamp, env.Payload, nil)
	if err != nil || out != ProofApplied || h.l.State(malloryFP) != Blacklisted {
		t.Fatalf("B: %v %v, mallory %v", out, err, h.l.State(malloryFP))
	}
	hist, _ := h.l.History(malloryFP)
	if last := hist[len(hist)-1]; last.Event != ProvenMalice || last.Cause != msgID(50) {
		t.Fatalf("transition %+v", last)
	}
}
