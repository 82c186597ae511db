package trust

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/protocols/envelope"
)

var at0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

func seedKey(seed string) ed25519.PrivateKey {
	s := sha256.Sum256([]byte(seed))
	return ed25519.NewKeyFromSeed(s[:])
}

func keyFP(k ed25519.PrivateKey) string { return Fingerprint(k.Public().(ed25519.PublicKey)) }

var (
	malloryKey = seedKey("mallory")
	aliceKeyT  = seedKey("alice")
	carolKey   = seedKey("carol")
	malloryFP  = keyFP(malloryKey)
	aliceFPT   = keyFP(aliceKeyT)
	carolFP    = keyFP(carolKey)
	factRef    = strings.Repeat("ab", 32)
	factRef2   = strings.Repeat("cd", 32)
)

// msgID returns a deterministic UUID v4 for n.
func msgID(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

// sealed returns the wire bytes of a CIP gossip envelope signed by k.
func sealed(t testing.TB, k ed25519.PrivateKey, typ envelope.Type, id string, ts time.Time, payload string) []byte {
	t.Helper()
	pub := k.Public().(ed25519.PublicKey)
	e := &envelope.Envelope{
		Family: envelope.CIP, MsgID: id, Type: typ, Timestamp: ts,
		Sender:   envelope.Sender{AgentID: "agent", Fingerprint: envelope.Fingerprint(pub), Capabilities: []string{"facts"}, Pubkey: envelope.EncodePubkey(pub)},
		Receiver: envelope.Receiver{Fingerprint: envelope.Broadcast},
		Trust:    envelope.Trust{SenderView: envelope.ViewProbing, ReceiverView: envelope.ViewProbing},
		State:    envelope.State{Presence: envelope.Focused, LRI: 10, KernelSignals: []string{}, Intent: ""},
		Payload:  json.RawMessage(payload),
	}
	raw, err := envelope.Seal(e, k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyEvidence(raw); err != nil {
		t.Fatalf("test envelope does not verify: %v", err)
	}
	return raw
}

func votePayload(kind, ref string) string {
	if kind == "challenge" {
		return fmt.Sprintf(`{"fact_ref":%q,"reason":"conflict","notes":""}`, ref)
	}
	return fmt.Sprintf(`{"fact_ref":%q,"decision":%q,"confidence":0.9,"notes":""}`, ref, kind)
}

func voteEnv(t testing.TB, k ed25519.PrivateKey, kind, ref, id string, ts time.Time) []byte {
	typ := map[string]envelope.Type{"confirm": envelope.FactConfirm, "reject": envelope.FactReject, "challenge": envelope.FactChallenge}[kind]
	return sealed(t, k, typ, id, ts, votePayload(kind, ref))
}

func attestPayload(t testing.TB, subject string, view State, reason string, evidence ...[]byte) []byte {
	t.Helper()
	a := Attestation{Subject: subject, View: view, Reason: reason, Evidence: []Evidence{}}
	for _, e := range evidence {
		a.Evidence = append(a.Evidence, Evidence{Envelope: e})
	}
	p, err := a.Payload()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// mustParseEnv parses and verifies wire bytes.
func mustParseEnv(t testing.TB, raw []byte) *envelope.Envelope {
	t.Helper()
	e, err := VerifyEvidence(raw)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestParseAttestation(t *testing.T) {
	good := attestPayload(t, malloryFP, Blacklisted, "x", []byte("{}"))
	a, err := ParseAttestation(good)
	if err != nil || a.Subject != malloryFP || a.View != Blacklisted || len(a.Evidence) != 1 || string(a.Evidence[0].Envelope) != "{}" {
		t.Fatalf("round trip: %+v %v", a, err)
	}
	for _, bad := range []Attestation{
		{Subject: "x", View: Trusted},
		{Subject: malloryFP},
		{Subject: malloryFP, View: Trusted, Evidence: []Evidence{{}}},
		{Subject: malloryFP, View: Trusted, Evidence: make([]Evidence, MaxAttestEvidence+1)},
	} {
		if _, err := bad.Payload(); !errors.Is(err, ErrInvalidAttestation) {
			t.Fatalf("Payload(%+v): %v", bad, err)
		}
	}
	many := make([]string, MaxAttestEvidence+1)
	for i := range many {
		many[i] = fmt.Sprintf(`{"msg_id":%q}`, msgID(i))
	}
	cases := []struct {
		name, payload, path string
	}{
		{"not json", `{`, "payload"},
		{"trailing", `{"subject":"` + malloryFP + `","view":"blacklisted","reason":"","evidence":[]} {}`, "trailing"},
		{"no subject", `{"view":"blacklisted","reason":"","evidence":[]}`, "payload.subject"},
		{"bad subject", `{"subject":"ABC","view":"blacklisted","reason":"","evidence":[]}`, "payload.subject"},
		{"no view", `{"subject":"` + malloryFP + `","reason":"","evidence":[]}`, "payload.view"},
		{"bad view", `{"subject":"` + malloryFP + `","view":"evil","reason":"","evidence":[]}`, "payload.view"},
		{"no reason", `{"subject":"` + malloryFP + `","view":"trusted","evidence":[]}`, "payload.reason"},
		{"no evidence", `{"subject":"` + malloryFP + `","view":"trusted","reason":""}`, "payload.evidence"},
		{"empty item", `{"subject":"` + malloryFP + `","view":"trusted","reason":"","evidence":[{}]}`, "payload.evidence[0]"},
		{"unknown member", `{"subject":"` + malloryFP + `","view":"trusted","reason":"","evidence":[{"url":"x"}]}`, "payload"},
		{"bad msg_id", `{"subject":"` + malloryFP + `","view":"trusted","reason":"","evidence":[{"msg_id":"nope"}]}`, "payload.evidence[0].msg_id"},
		{"bad base64", `{"subject":"` + malloryFP + `","view":"trusted","reason":"","evidence":[{"envelope":"***"}]}`, "payload.evidence[0].envelope"},
		{"too many", `{"subject":"` + malloryFP + `","view":"trusted","reason":"","evidence":[` + strings.Join(many, ",") + `]}`, "payload.evidence"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseAttestation([]byte(c.payload))
			if !errors.Is(err, ErrInvalidAttestation) || !strings.Contains(err.Error(), c.path) {
				t.Fatalf("got %v, want ErrInvalidAttestation naming %s", err, c.path)
			}
		})
	}
}

func TestContradicts(t *testing.T) {
	c1 := mustParseEnv(t, voteEnv(t, malloryKey, "confirm", factRef, msgID(1), at0))
	r1 := mustParseEnv(t, voteEnv(t, malloryKey, "reject", factRef, msgID(2), at0.Add(500*time.Millisecond)))
	ch := mustParseEnv(t, voteEnv(t, malloryKey, "challenge", factRef, msgID(3), at0))
	rLate := mustParseEnv(t, voteEnv(t, malloryKey, "reject", factRef, msgID(4), at0.Add(EquivocationWindow+time.Millisecond)))
	rOther := mustParseEnv(t, voteEnv(t, malloryKey, "reject", factRef2, msgID(5), at0))
	c2 := mustParseEnv(t, voteEnv(t, malloryKey, "confirm", factRef, msgID(6), at0))
	aliceR := mustParseEnv(t, voteEnv(t, aliceKeyT, "reject", factRef, msgID(7), at0))
	sameID := mustParseEnv(t, voteEnv(t, malloryKey, "confirm", factRef2, msgID(1), at0))
	st1 := mustParseEnv(t, sealed(t, malloryKey, envelope.StateUpdate, msgID(8), at0, `{"presence":"focused","lri":1,"trust_state":"probing","kernel_signals":[],"intent":""}`))
	st2 := mustParseEnv(t, sealed(t, malloryKey, envelope.StateUpdate, msgID(8), at0, `{"presence":"diffuse","lri":1,"trust_state":"probing","kernel_signals":[],"intent":""}`))
	cases := []struct {
		name string
		a, b *envelope.Envelope
		want Contradiction
	}{
		{"confirm vs reject within window", c1, r1, OppositeVotes},
		{"confirm vs challenge", c1, ch, OppositeVotes},
		{"reject vs confirm (either order)", r1, c1, OppositeVotes},
		{"outside the window: a change of mind", c1, rLate, 0},
		{"different facts", c1, rOther, 0},
		{"two confirms", c1, c2, 0},
		{"reject vs challenge", r1, ch, 0},
		{"different signers", c1, aliceR, 0},
		{"same bytes twice", c1, mustParseEnv(t, c1.Raw()), 0},
		{"same msg_id, other content", c1, sameID, SameMsgID},
		{"state update, same msg_id, other content", st1, st2, SameMsgID},
		{"nil", c1, nil, 0},
	}
	for _, c := range cases {
		if got := Contradicts(c.a, c.b); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
	if Contradiction(0).Valid() || Contradiction(9).String() != "invalid(9)" || OppositeVotes.String() != "opposite_votes" {
		t.Fatal("Contradiction enum")
	}
}

func TestVerifyProof(t *testing.T) {
	confirm := voteEnv(t, malloryKey, "confirm", factRef, msgID(1), at0)
	reject := voteEnv(t, malloryKey, "reject", factRef, msgID(2), at0)
	p, err := VerifyProof(attestPayload(t, malloryFP, Blacklisted, ReasonEquivocation, confirm, reject), nil)
	if err != nil || p.Subject != malloryFP || p.Kind != OppositeVotes || p.A.MsgID != msgID(1) || p.B.MsgID != msgID(2) {
		t.Fatalf("valid proof: %+v %v", p, err)
	}

	// Forged: a signature that does not verify (one byte of the signed
	// content changed after signing).
	tampered := []byte(strings.Replace(string(reject), `"confidence":0.9`, `"confidence":0.8`, 1))
	aliceVote := voteEnv(t, aliceKeyT, "reject", factRef, msgID(3), at0)
	later := voteEnv(t, malloryKey, "reject", factRef, msgID(4), at0.Add(time.Hour))
	cases := []struct {
		name    string
		payload []byte
		want    error
	}{
		{"bad signature", attestPayload(t, malloryFP, Blacklisted, ReasonEquivocation, confirm, tampered), ErrForgedEvidence},
		{"not an envelope", attestPayload(t, malloryFP, Blacklisted, ReasonEquivocation, confirm, []byte(`{"cip":"1.0"}`)), ErrForgedEvidence},
		{"wrong signer", attestPayload(t, malloryFP, Blacklisted, ReasonEquivocation, confirm, aliceVote), ErrWrongSigner},
		{"subject is not the signer", attestPayload(t, aliceFPT, Blacklisted, ReasonEquivocation, confirm, reject), ErrWrongSigner},
		{"non-contradicting pair", attestPayload(t, malloryFP, Blacklisted, ReasonEquivocation, confirm, later), ErrNoContradiction},
		{"same envelope twice", attestPayload(t, malloryFP, Blacklisted, ReasonEquivocation, confirm, confirm), ErrNoContradiction},
		{"genuine pair padded with a forgery", attestPayload(t, malloryFP, Blacklisted, ReasonEquivocation, confirm, reject, tampered), ErrForgedEvidence},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := VerifyProof(c.payload, nil)
			if !errors.Is(err, ErrInvalidProof) || !errors.Is(err, c.want) {
				t.Fatalf("got %v, want ErrInvalidProof + %v", err, c.want)
			}
		})
	}
	// msg_id named next to an envelope must be the envelope's.
	a := Attestation{Subject: malloryFP, View: Blacklisted, Reason: "", Evidence: []Evidence{
		{MsgID: msgID(1), Envelope: confirm}, {MsgID: msgID(9), Envelope: reject}}}
	if _, err := a.VerifyProof(nil); !errors.Is(err, ErrForgedEvidence) {
		t.Fatalf("mismatched msg_id: %v", err)
	}
	// Fewer than two envelopes: no proof at all (not an invalid one).
	if _, err := VerifyProof(attestPayload(t, malloryFP, Blacklisted, "", confirm), nil); !errors.Is(err, ErrNoProof) || errors.Is(err, ErrInvalidProof) {
		t.Fatalf("one envelope: %v", err)
	}
	// A custom verifier is used for every envelope.
	calls := 0
	_, err = VerifyProof(attestPayload(t, malloryFP, Blacklisted, "", confirm, reject), func(raw []byte) (*envelope.Envelope, error) {
		calls++
		return nil, errors.New("refused")
	})
	if !errors.Is(err, ErrForgedEvidence) || calls != 1 {
		t.Fatalf("custom verifier: %v after %d calls", err, calls)
	}
}

func openAttestHarness(t *testing.T) *harness {
	clk := &clock{t: at0}
	return openHarness(t, filepath.Join(t.TempDir(), "db"), clk)
}

func TestApplyProofBlacklistsSubject(t *testing.T) {
	h := openAttestHarness(t)
	const deliverer = fpB
	mustApply(t, h.l, malloryFP, ValidHandshake, "hs")
	mustApply(t, h.l, deliverer, ValidHandshake, "hs")
	confirm := voteEnv(t, malloryKey, "confirm", factRef, msgID(1), at0)
	reject := voteEnv(t, malloryKey, "reject", factRef, msgID(2), at0)
	attestID := msgID(100)
	p, tr, err := ApplyProof(h.l, deliverer, attestID, attestPayload(t, malloryFP, Blacklisted, ReasonEquivocation, confirm, reject), nil)
	if err != nil || p.Kind != OppositeVotes {
		t.Fatalf("ApplyProof: %+v %v", p, err)
	}
	if tr == nil || tr.To != Blacklisted || tr.Event != ProvenMalice || tr.Cause != attestID || h.l.State(malloryFP) != Blacklisted {
		t.Fatalf("transition %+v, state %v", tr, h.l.State(malloryFP))
	}
	if h.l.State(deliverer) != Probing {
		t.Fatalf("deliverer charged for a valid proof: %v", h.l.State(deliverer))
	}
	if _, ok := h.ring.WaitFor(nil, func(e events.Event) bool {
		return e.Type == EventProofVerified && e.Subject == malloryFP && len(e.Causes) == 1 && e.Causes[0] == attestID
	}); !ok {
		t.Fatal("no proof_verified event")
	}
	// It survives a restart (the ledger persisted it).
	if err := h.db.Close(); err != nil {
		t.Fatal(err)
	}
	h2 := openHarness(t, h.path, h.clk)
	if h2.l.State(malloryFP) != Blacklisted {
		t.Fatal("blacklisting lost on restart")
	}
	// A proof about a peer never met still blacklists it (SPEC §5).
	c := voteEnv(t, carolKey, "confirm", factRef, msgID(5), at0)
	r := voteEnv(t, carolKey, "challenge", factRef, msgID(6), at0)
	if _, tr, err := ApplyProof(h2.l, deliverer, msgID(101), attestPayload(t, carolFP, Blacklisted, "", c, r), nil); err != nil || tr == nil || tr.From != Unknown {
		t.Fatalf("unknown subject: %+v %v", tr, err)
	}
}

func TestApplyProofForgedChargesAttester(t *testing.T) {
	confirm := voteEnv(t, malloryKey, "confirm", factRef, msgID(1), at0)
	reject := voteEnv(t, malloryKey, "reject", factRef, msgID(2), at0)
	tampered := []byte(strings.Replace(string(reject), `"confidence":0.9`, `"confidence":0.1`, 1))
	aliceVote := voteEnv(t, aliceKeyT, "reject", factRef, msgID(3), at0)
	later := voteEnv(t, malloryKey, "reject", factRef, msgID(4), at0.Add(time.Hour))
	cases := []struct {
		name    string
		payload []byte
		want    error
		event   Event // the attester's charge
		to      State // from trusted
	}{
		{"bad signature", attestPayload(t, malloryFP, Blacklisted, "", confirm, tampered), ErrForgedEvidence, ProvenMalice, Blacklisted},
		{"wrong signer", attestPayload(t, malloryFP, Blacklisted, "", confirm, aliceVote), ErrWrongSigner, ProvenMalice, Blacklisted},
		{"non-contradicting", attestPayload(t, malloryFP, Blacklisted, "", confirm, later), ErrNoContradiction, InvalidMessage, Probing},
		{"malformed payload", []byte(`{"subject":1}`), ErrInvalidAttestation, InvalidMessage, Probing},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := openAttestHarness(t)
			const attester = fpB
			mustApply(t, h.l, malloryFP, ValidHandshake, "hs")
			mustApply(t, h.l, attester, Anchor, "anchor")
			_, tr, err := ApplyProof(h.l, attester, msgID(100), c.payload, nil)
			if !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
			// The subject is untouched; the attester who signed the bad
			// proof answers for it: forged evidence is proven malice,
			// anything else one invalid message.
			if h.l.State(malloryFP) != Probing {
				t.Fatalf("subject charged: %v", h.l.State(malloryFP))
			}
			if tr == nil || tr.Peer != attester || tr.Event != c.event || tr.To != c.to || tr.Cause != msgID(100) {
				t.Fatalf("attester transition %+v, want %v → %v", tr, c.event, c.to)
			}
			if _, ok := h.ring.WaitFor(nil, func(e events.Event) bool {
				return e.Type == "web4.error" && e.Data["kind"] == "invalid_proof" && e.Subject == attester
			}); !ok {
				t.Fatal("no invalid_proof error event")
			}
		})
	}
	// No proof at all: nothing applied to anyone.
	h := openAttestHarness(t)
	mustApply(t, h.l, fpB, Anchor, "anchor")
	if _, tr, err := ApplyProof(h.l, fpB, msgID(100), attestPayload(t, malloryFP, Blacklisted, ""), nil); !errors.Is(err, ErrNoProof) || tr != nil || h.l.State(fpB) != Trusted {
		t.Fatalf("no proof: %+v %v", tr, err)
	}
}

func TestProofAttestationSize(t *testing.T) {
	big := make([]byte, envelope.MaxSize)
	if _, err := ProofAttestation(malloryFP, big, big, msgID(1), msgID(2)); !errors.Is(err, ErrProofTooLarge) {
		t.Fatalf("two maximal envelopes: %v", err)
	}
	huge := make([]byte, MaxAttestEnvelopeB64)
	if _, err := ProofAttestation(malloryFP, huge, nil, msgID(1), msgID(2)); !errors.Is(err, ErrProofTooLarge) {
		t.Fatalf("oversize envelope: %v", err)
	}
}
