package trust

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

const fpA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

// step is one line of a transcript: at t0+at apply ev (with confirmations),
// then expect state want; moved says whether a Transition must be returned.
type step struct {
	at    time.Duration
	ev    Event
	conf  int
	want  State
	moved bool
}

func ps(s State) PeerState { return PeerState{Peer: fpA, State: s, Since: t0.Add(-time.Hour)} }

// untrustedAt is a peer that became untrusted at t0 (cooldown runs to t0+60s).
func untrustedAt() PeerState {
	p := ps(Untrusted)
	p.UntrustedAt = t0
	return p
}

func TestFSMTable(t *testing.T) {
	s := time.Second
	cases := []struct {
		name  string
		start PeerState
		steps []step
	}{
		// Row: unknown / untrusted (cooldown over) + valid handshake → probing.
		{"unknown valid handshake", PeerState{Peer: fpA}, []step{{0, ValidHandshake, 0, Probing, true}}},
		{"untrusted after cooldown", untrustedAt(), []step{{60 * s, ValidHandshake, 0, Probing, true}}},
		{"untrusted inside cooldown stays", untrustedAt(), []step{
			{59 * s, ValidHandshake, 0, Untrusted, false},
			{60 * s, ValidHandshake, 0, Probing, true}}},
		{"vouched newcomer skips cooldown", untrustedAt(), []step{
			{1 * s, Vouched, 0, Untrusted, false},
			{2 * s, ValidHandshake, 0, Probing, true}}},
		{"vouch before falling does not skip the cooldown", ps(Probing), []step{
			{0, Vouched, 0, Probing, false},
			{s, AttestedUntrusted, 0, Untrusted, true},
			{2 * s, ValidHandshake, 0, Untrusted, false},
			{3 * s, Vouched, 0, Untrusted, false},
			{4 * s, ValidHandshake, 0, Probing, true}}},
		{"valid handshake no-op when probing", ps(Probing), []step{{0, ValidHandshake, 0, Probing, false}}},
		{"valid handshake no-op when trusted", ps(Trusted), []step{{0, ValidHandshake, 0, Trusted, false}}},

		// Row: any but blacklisted + bad signature → untrusted.
		{"bad sig unknown", ps(Unknown), []step{{0, BadSignature, 0, Untrusted, true}}},
		{"bad sig probing", ps(Probing), []step{{0, BadSignature, 0, Untrusted, true}}},
		{"bad sig trusted", ps(Trusted), []step{{0, BadSignature, 0, Untrusted, true}}},
		{"bad sig untrusted restarts cooldown", untrustedAt(), []step{
			{50 * s, BadSignature, 0, Untrusted, false},
			{61 * s, ValidHandshake, 0, Untrusted, false},
			{110 * s, ValidHandshake, 0, Probing, true}}},
		{"bad sig blacklisted ignored", ps(Blacklisted), []step{{0, BadSignature, 0, Blacklisted, false}}},

		// Row: any + fingerprint mismatch → blacklisted.
		{"mismatch unknown", ps(Unknown), []step{{0, FingerprintMismatch, 0, Blacklisted, true}}},
		{"mismatch untrusted", untrustedAt(), []step{{0, FingerprintMismatch, 0, Blacklisted, true}}},
		{"mismatch probing", ps(Probing), []step{{0, FingerprintMismatch, 0, Blacklisted, true}}},
		{"mismatch trusted", ps(Trusted), []step{{0, FingerprintMismatch, 0, Blacklisted, true}}},
		{"mismatch blacklisted", ps(Blacklisted), []step{{0, FingerprintMismatch, 0, Blacklisted, false}}},

		// Row: probing + verified knowledge → trusted.
		{"two accepted facts promote", ps(Probing), []step{
			{0, FactAccepted, 2, Probing, false},
			{s, FactAccepted, 3, Trusted, true}}},
		{"unreported confirmations count", ps(Probing), []step{
			{0, FactAccepted, 0, Probing, false},
			{s, FactAccepted, 0, Trusted, true}}},
		{"too few confirmations do not count", ps(Probing), []step{
			{0, FactAccepted, 1, Probing, false},
			{s, FactAccepted, 1, Probing, false},
			{2 * s, FactAccepted, 2, Probing, false},
			{3 * s, FactAccepted, 2, Trusted, true}}},
		{"failure in window blocks promotion", ps(Probing), []step{
			{0, InvalidMessage, 0, Probing, false},
			{s, FactAccepted, 2, Probing, false},
			{2 * s, FactAccepted, 2, Probing, false},
			{DefaultWindow + s, FactAccepted, 2, Trusted, true}}},
		{"fact accepted ignored unless probing", ps(Unknown), []step{
			{0, FactAccepted, 2, Unknown, false},
			{s, FactAccepted, 2, Unknown, false}}},

		// Row: probing + conflict lost, or ≥3 invalid in window → untrusted.
		{"probing conflict lost", ps(Probing), []step{{0, ConflictLost, 0, Untrusted, true}}},
		{"probing three invalid in window", ps(Probing), []step{
			{0, InvalidMessage, 0, Probing, false},
			{time.Minute, InvalidMessage, 0, Probing, false},
			{2 * time.Minute, InvalidMessage, 0, Untrusted, true}}},
		{"probing two in window then one after expiry stays", ps(Probing), []step{
			{0, InvalidMessage, 0, Probing, false},
			{time.Minute, InvalidMessage, 0, Probing, false},
			{DefaultWindow + time.Minute/2, InvalidMessage, 0, Probing, false},
			// Now two (t0+1m, t0+10m30s) are in the window; a third inside → untrusted.
			{DefaultWindow + time.Minute/2 + s, InvalidMessage, 0, Untrusted, true}}},
		{"probing anomalies count as invalid", ps(Probing), []step{
			{0, TemporaryAnomaly, 0, Probing, false},
			{s, InvalidMessage, 0, Probing, false},
			{2 * s, TemporaryAnomaly, 0, Untrusted, true}}},

		// Row: trusted + temporary anomaly → probing.
		{"trusted conflict lost", ps(Trusted), []step{{0, ConflictLost, 0, Probing, true}}},
		{"trusted invalid message", ps(Trusted), []step{{0, InvalidMessage, 0, Probing, true}}},
		{"trusted anomaly", ps(Trusted), []step{{0, TemporaryAnomaly, 0, Probing, true}}},

		// Row: trusted / probing / untrusted + proven malice → blacklisted.
		{"malice trusted", ps(Trusted), []step{{0, ProvenMalice, 0, Blacklisted, true}}},
		{"malice probing", ps(Probing), []step{{0, ProvenMalice, 0, Blacklisted, true}}},
		{"malice untrusted", untrustedAt(), []step{{0, ProvenMalice, 0, Blacklisted, true}}},
		{"malice unknown (proof about a stranger)", ps(Unknown), []step{{0, ProvenMalice, 0, Blacklisted, true}}},

		// Row: blacklisted + manual override → probing; nothing else moves it.
		{"blacklisted ignores all but override", ps(Blacklisted), []step{
			{0, ValidHandshake, 0, Blacklisted, false},
			{0, FactAccepted, 0, Blacklisted, false},
			{0, Anchor, 0, Blacklisted, false},
			{0, Vouched, 0, Blacklisted, false},
			{0, AttestedUntrusted, 0, Blacklisted, false},
			{0, ProvenMalice, 0, Blacklisted, false},
			{0, ManualOverride, 0, Probing, true}}},
		{"override ignored when not blacklisted", ps(Untrusted), []step{{0, ManualOverride, 0, Untrusted, false}}},

		// Row: (config) trust anchor → trusted.
		{"anchor unknown", PeerState{Peer: fpA}, []step{{0, Anchor, 0, Trusted, true}}},
		{"anchor probing", ps(Probing), []step{{0, Anchor, 0, Trusted, true}}},
		{"anchor already trusted", ps(Trusted), []step{{0, Anchor, 0, Trusted, false}}},

		// Propagation: ≥2 trusted attesters say blacklisted → untrusted.
		{"attested trusted", ps(Trusted), []step{{0, AttestedUntrusted, 0, Untrusted, true}}},
		{"attested probing then cooldown", ps(Probing), []step{
			{0, AttestedUntrusted, 0, Untrusted, true},
			{30 * s, ValidHandshake, 0, Untrusted, false},
			{60 * s, ValidHandshake, 0, Probing, true}}},
		{"attested unknown", ps(Unknown), []step{{0, AttestedUntrusted, 0, Untrusted, true}}},
		{"attested untrusted no-op", untrustedAt(), []step{{0, AttestedUntrusted, 0, Untrusted, false}}},

		// Operator overrides: demote, distrust, blacklist.
		{"demote trusted", ps(Trusted), []step{{0, ManualDemote, 0, Probing, true}}},
		{"demote probing is no step", ps(Probing), []step{{0, ManualDemote, 0, Probing, false}}},
		{"distrust probing starts cooldown", ps(Probing), []step{
			{0, ManualDistrust, 0, Untrusted, true},
			{30 * s, ValidHandshake, 0, Untrusted, false},
			{60 * s, ValidHandshake, 0, Probing, true}}},
		{"distrust trusted", ps(Trusted), []step{{0, ManualDistrust, 0, Untrusted, true}}},
		{"distrust unknown", ps(Unknown), []step{{0, ManualDistrust, 0, Untrusted, true}}},
		{"blacklist trusted", ps(Trusted), []step{{0, ManualBlacklist, 0, Blacklisted, true}}},
		{"blacklist unknown", ps(Unknown), []step{{0, ManualBlacklist, 0, Blacklisted, true}}},
		{"blacklisted ignores operator demotions", ps(Blacklisted), []step{
			{0, ManualDemote, 0, Blacklisted, false},
			{0, ManualDistrust, 0, Blacklisted, false},
			{0, ManualBlacklist, 0, Blacklisted, false}}},
	}
	fsm := NewFSM(DefaultConfig())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cur := tc.start
			for i, st := range tc.steps {
				now := t0.Add(st.at)
				before := cur.current()
				next, tr := fsm.StepInput(cur, Input{Event: st.ev, Cause: "msg-1", Confirmations: st.conf}, now)
				if next.current() != st.want {
					t.Fatalf("step %d (%s at +%v): state %s, want %s", i, st.ev, st.at, next.current(), st.want)
				}
				if (tr != nil) != st.moved {
					t.Fatalf("step %d (%s): transition %+v, want moved=%v", i, st.ev, tr, st.moved)
				}
				if tr != nil {
					if tr.From != before || tr.To != st.want || tr.Event != st.ev || tr.Cause != "msg-1" ||
						!tr.Time.Equal(now) || tr.Peer != fpA || tr.Seq != next.Seq || !next.Since.Equal(now) {
						t.Fatalf("step %d: bad transition record %+v (state %+v)", i, tr, next)
					}
				}
				cur = next
			}
		})
	}
}

func TestStepIsPure(t *testing.T) {
	fsm := NewFSM(Config{})
	in := ps(Probing)
	in.Invalid = []time.Time{t0, t0.Add(time.Second)}
	saved := in.clone()
	a, ta := fsm.Step(in, InvalidMessage, t0.Add(2*time.Second))
	b, tb := fsm.Step(in, InvalidMessage, t0.Add(2*time.Second))
	if !equalState(in, saved) {
		t.Fatalf("Step modified its input: %+v", in)
	}
	if !equalState(a, b) || *ta != *tb || a.current() != Untrusted {
		t.Fatalf("Step not deterministic: %+v %+v", a, b)
	}
	if a.Counters() != (Counters{InvalidInWindow: 3}) || ta.Counters.InvalidInWindow != 3 {
		t.Fatalf("counters: %+v", ta.Counters)
	}
	if n, tr := fsm.Step(in, Event(0), t0); tr != nil || !equalState(n, in) {
		t.Fatal("invalid event changed state")
	}
	if n, tr := fsm.Step(in, Event(200), t0); tr != nil || !equalState(n, in) {
		t.Fatal("out-of-range event changed state")
	}
}

func TestInvalidListBounded(t *testing.T) {
	fsm := NewFSM(DefaultConfig())
	p := ps(Unknown)
	for i := 0; i < 3*maxInvalidTracked; i++ {
		p, _ = fsm.Step(p, InvalidMessage, t0.Add(time.Duration(i)*time.Millisecond))
	}
	if len(p.Invalid) != maxInvalidTracked || p.current() != Unknown {
		t.Fatalf("invalid list %d, state %s", len(p.Invalid), p.current())
	}
}

func TestCustomConfig(t *testing.T) {
	fsm := NewFSM(Config{Cooldown: 5 * time.Second, InvalidThreshold: 1, VerifiedFacts: 1, VerifiedConfirmations: 3, Window: time.Minute})
	p, tr := fsm.Step(ps(Probing), InvalidMessage, t0)
	if tr == nil || p.current() != Untrusted {
		t.Fatalf("threshold 1: %s", p.current())
	}
	if p2, _ := fsm.Step(p, ValidHandshake, t0.Add(5*time.Second)); p2.current() != Probing {
		t.Fatalf("cooldown 5s: %s", p2.current())
	}
	q, _ := fsm.StepInput(ps(Probing), Input{Event: FactAccepted, Confirmations: 2}, t0)
	if q.current() != Probing {
		t.Fatal("2 < 3 confirmations promoted")
	}
	q, _ = fsm.StepInput(q, Input{Event: FactAccepted, Confirmations: 3}, t0)
	if q.current() != Trusted {
		t.Fatal("1 fact with 3 confirmations did not promote")
	}
}

func TestEnums(t *testing.T) {
	for s := Unknown; s <= Blacklisted; s++ {
		got, err := ParseState(s.String())
		if err != nil || got != s {
			t.Fatalf("state %d round trip: %v %v", s, got, err)
		}
	}
	for e := ValidHandshake; e <= lastEvent; e++ {
		got, err := ParseEvent(e.String())
		if err != nil || got != e {
			t.Fatalf("event %d round trip: %v %v", e, got, err)
		}
	}
	if State(0).Valid() || Event(0).Valid() || State(0).String() != "invalid(0)" {
		t.Fatal("zero values must be invalid")
	}
	if _, err := ParseState("Trusted"); err == nil {
		t.Fatal("ParseState is case-sensitive on the wire")
	}
	if _, err := State(9).MarshalText(); err == nil {
		t.Fatal("marshal invalid state")
	}
}

func TestFingerprint(t *testing.T) {
	fp := Fingerprint(make([]byte, 32))
	if err := CheckFingerprint(fp); err != nil || fp != "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925" {
		t.Fatalf("fingerprint %s %v", fp, err)
	}
	for _, bad := range []string{"", "AA", fp[:63], fp + "0", "G" + fp[1:], "A" + fp[1:]} {
		if CheckFingerprint(bad) == nil {
			t.Fatalf("accepted %q", bad)
		}
	}
}
