package lip

import (
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/lip/extract"
	"github.com/web4p2p/web4p2p/trust"
)

func TestDecideRuleByRule(t *testing.T) {
	base := mkClaim("The Eiffel Tower is in Paris.", "https://low.example/a", extract.True)
	alice, bob, carol, mallory := fp("alice"), fp("bob"), fp("carol"), fp("mallory")
	v := view{alice: trust.Trusted, bob: trust.Trusted, carol: trust.Probing, mallory: trust.Blacklisted, fp("dave"): trust.Trusted}
	two := []Corroboration{sameContent(alice, base), ownEvidence(bob, base)}

	noProv := base
	noProv.Provenance.ContentSHA256 = ""
	noTime := base
	noTime.Provenance.RetrievedAt = time.Time{}
	invalid := base
	invalid.FactID = sum("other")
	lowConf := base
	lowConf.Confidence = 0.3
	originIsAlice := base
	originIsAlice.Origin = alice
	wrongHash := sameContent(alice, base)
	wrongHash.ContentSHA256 = sum("different content")
	wrongVerdict := ownEvidence(bob, base)
	wrongVerdict.Verdict = extract.False

	cases := []struct {
		name    string
		claim   Claim
		corr    []Corroboration
		tier    envelope.Tier
		now     time.Time
		over    bool
		conf    ConflictState
		outcome Outcome
		reason  Reason
	}{
		{"1 invalid claim", invalid, two, envelope.TierHigh, t0, false, NoConflict, Reject, ReasonInvalid},
		{"2 no hash", noProv, two, envelope.TierHigh, t0, false, NoConflict, Reject, ReasonNoProvenance},
		{"2 no retrieved_at", noTime, two, envelope.TierHigh, t0, false, NoConflict, Reject, ReasonNoProvenance},
		{"3 blocked beats corroboration", base, two, envelope.TierBlocked, t0, false, NoConflict, Reject, ReasonBlocked},
		{"4 expired", base, nil, envelope.TierLow, t0.Add(DefaultTTL), false, NoConflict, Reject, ReasonExpired},
		{"4 expired even when overloaded", base, nil, envelope.TierLow, t0.Add(time.Hour), true, NoConflict, Reject, ReasonExpired},
		{"5 conflict lost", base, two, envelope.TierHigh, t0, false, ConflictLost, Reject, ReasonConflictLost},
		{"6 low confidence", lowConf, two, envelope.TierHigh, t0, false, NoConflict, Reject, ReasonLowConfidence},
		{"7 unresolved conflict", base, two, envelope.TierHigh, t0, false, ConflictUnresolved, Dispute, ReasonDisputed},
		{"8 overloaded waits", base, two, envelope.TierHigh, t0, true, NoConflict, Wait, ReasonOverloaded},
		{"9 tier medium", base, nil, envelope.TierMedium, t0, false, NoConflict, Accept, ReasonTier},
		{"9 tier high, conflict won", base, nil, envelope.TierHigh, t0, false, ConflictWon, Accept, ReasonTier},
		{"9 a peer's claim does not ride on the tier", originIsAlice, nil, envelope.TierHigh, t0, false, NoConflict, Wait, ReasonInsufficient},
		{"10 a peer's claim accepted by corroboration", originIsAlice, []Corroboration{ownEvidence(bob, base), ownEvidence(fp("dave"), base)}, envelope.TierHigh, t0, false, NoConflict, Accept, ReasonCorroborated},
		{"10 two trusted corroborators", base, two, envelope.TierLow, t0, false, NoConflict, Accept, ReasonCorroborated},
		{"10 unknown tier corroborated", base, two, envelope.TierUnknown, t0, false, NoConflict, Accept, ReasonCorroborated},
		{"11 low tier alone waits", base, nil, envelope.TierLow, t0, false, NoConflict, Wait, ReasonInsufficient},
		{"11 one trusted is not enough", base, two[:1], envelope.TierLow, t0, false, NoConflict, Wait, ReasonInsufficient},
		{"11 same peer twice counts once", base, []Corroboration{sameContent(alice, base), ownEvidence(alice, base)}, envelope.TierLow, t0, false, NoConflict, Wait, ReasonInsufficient},
		{"11 probing and blacklisted do not count", base, []Corroboration{sameContent(carol, base), sameContent(mallory, base), sameContent(alice, base)}, envelope.TierLow, t0, false, NoConflict, Wait, ReasonInsufficient},
		{"11 different hash does not count", base, []Corroboration{wrongHash, ownEvidence(bob, base)}, envelope.TierLow, t0, false, NoConflict, Wait, ReasonInsufficient},
		{"11 different verdict does not count", base, []Corroboration{sameContent(alice, base), wrongVerdict}, envelope.TierLow, t0, false, NoConflict, Wait, ReasonInsufficient},
		{"11 origin cannot corroborate itself", originIsAlice, two, envelope.TierLow, t0, false, NoConflict, Wait, ReasonInsufficient},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := Decide(Input{Claim: c.claim, Corroborations: c.corr, View: v.State, Tier: c.tier,
				Now: c.now, Expires: t0.Add(DefaultTTL), Overloaded: c.over, Conflict: c.conf})
			if d.Outcome != c.outcome || d.Reason != c.reason {
				t.Fatalf("got %v/%v (%s), want %v/%v", d.Outcome, d.Reason, d.Detail, c.outcome, c.reason)
			}
			if d.Detail == "" {
				t.Fatal("decision without detail")
			}
		})
	}
	// Deterministic: the same input gives the same decision, whatever the
	// order of corroborations.
	a := Decide(Input{Claim: base, Corroborations: two, View: v.State, Tier: envelope.TierLow, Now: t0, Conflict: NoConflict})
	b := Decide(Input{Claim: base, Corroborations: []Corroboration{two[1], two[0]}, View: v.State, Tier: envelope.TierLow, Now: t0, Conflict: NoConflict})
	if a.Outcome != b.Outcome || len(a.Support) != 2 || a.Support[0] != b.Support[0] {
		t.Fatalf("order dependent: %+v vs %+v", a, b)
	}
}

func TestConflicting(t *testing.T) {
	asserted := mkClaim("The Moon is made of cheese.", "https://blog.example/x", extract.True)
	review := mkClaim("The Moon is made of cheese.", "https://factcheck.example/y", extract.False)
	other := mkClaim("Something else.", "https://blog.example/x", extract.True)
	if k, ok := Conflicting(asserted, review); !ok || k != VerdictClash {
		t.Fatal("ClaimReview false vs assertion must conflict")
	}
	if _, ok := Conflicting(asserted, other); ok {
		t.Fatal("unrelated claims conflict")
	}
	h1 := mkTriple("geo", "Eiffel Tower", "height_m", "330", "https://a.example/")
	h2 := mkTriple("geo", "eiffel tower", "Height_m", "300", "https://b.example/")
	h3 := mkTriple("geo", "Eiffel Tower", "height_m", " 330 ", "https://c.example/")
	h4 := mkTriple("history", "Eiffel Tower", "height_m", "300", "https://d.example/")
	if k, ok := Conflicting(h1, h2); !ok || k != Contradiction {
		t.Fatal("same (domain, subject, predicate), different object must conflict")
	}
	if _, ok := Conflicting(h1, h3); ok {
		t.Fatal("same object (modulo case/space) conflicts")
	}
	if _, ok := Conflicting(h2, h4); ok {
		t.Fatal("different domains conflict")
	}
}

func TestResolveAndGrade(t *testing.T) {
	r := DefaultRules()
	high := Side{Tier: envelope.TierHigh}
	low := Side{Tier: envelope.TierLow}
	lowCorr := Side{Tier: envelope.TierLow, Support: 2}
	med := Side{Tier: envelope.TierMedium}
	if Resolve(high, low, r) != 1 || Resolve(low, high, r) != -1 {
		t.Fatal("high vs low must resolve by tier")
	}
	if Resolve(high, med, r) != 0 {
		t.Fatal("high vs medium is within the margin")
	}
	if Resolve(lowCorr, low, r) != 1 {
		t.Fatal("corroboration weight must count")
	}
	if Resolve(lowCorr, high, r) != 0 {
		t.Fatal("low+2 vs high is a tie")
	}
	if Resolve(Side{Tier: envelope.TierBlocked}, Side{Tier: envelope.TierUnknown}, r) != 0 {
		t.Fatal("blocked vs unknown")
	}
	if Grade(high, med, r) != SeverityHigh || Grade(high, low, r) != SeverityMedium || Grade(low, low, r) != SeverityLow ||
		Grade(Side{Tier: envelope.TierLow, Accepted: true}, low, r) != SeverityHigh {
		t.Fatal("grades")
	}
}

func TestEnums(t *testing.T) {
	for _, s := range []interface{ String() string }{Outcome(0), Reason(0), Severity(0), ConflictKind(0), CorroborationKind(0), ConflictState(0)} {
		if s.String() != "invalid(0)" {
			t.Fatalf("%T zero = %q", s, s.String())
		}
	}
	for r := ReasonInvalid; r <= ReasonRetracted; r++ {
		b, err := r.MarshalText()
		var back Reason
		if err != nil || back.UnmarshalText(b) != nil || back != r {
			t.Fatalf("reason %d round trip", r)
		}
	}
	var s Severity
	if s.UnmarshalText([]byte("extreme")) == nil {
		t.Fatal("bad severity accepted")
	}
}
