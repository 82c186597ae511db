package lip

import (
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/web4p2p/web4p2p/knowledge"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/lip/extract"
	"github.com/web4p2p/web4p2p/protocols/lip/fetch"
)

// checkFactIDAgrees names (domain, statement) along every path lip and
// knowledge have — lip.NewClaim, lip.EvidenceFor, lip.FactFor and
// knowledge.Fact.Validate — and fails unless they agree: either all refuse
// it (no fact id: empty or not UTF-8) or all use envelope.FactID's id.
// It returns whether the pair named a fact.
func checkFactIDAgrees(t *testing.T, domain, statement string) bool {
	t.Helper()
	eff := domain
	if eff == "" {
		eff = DefaultDomain // what NewClaim and EvidenceFor substitute
	}
	xc := extract.Claim{Statement: statement, Domain: domain, Verdict: extract.True, Confidence: 0.5, Extractor: "test"}
	claim, lerr := NewClaim(xc, Provenance{URI: "https://example.org/a", RetrievedAt: t0, ContentSHA256: sum("a")}, "")
	ev := EvidenceFor(&fetch.Result{SHA256: sum("a")}, []extract.Claim{xc}, "")
	kf := knowledge.Fact{Domain: eff, Statement: statement, Confidence: 0.5, Proposer: fp("alice"), ProposedAt: t0}
	kerr := kf.Validate()

	id, err := envelope.FactID(eff, statement)
	if err != nil {
		if lerr == nil || kerr == nil || len(ev.Claims) != 0 {
			t.Fatalf("(%q,%q) names no fact (%v), yet NewClaim err %v, knowledge err %v, evidence claims %d",
				domain, statement, err, lerr, kerr, len(ev.Claims))
		}
		if !errors.Is(kerr, knowledge.ErrInvalidFact) || !errors.Is(lerr, ErrInvalidClaim) {
			t.Fatalf("(%q,%q): refusals %v / %v, want ErrInvalidFact / ErrInvalidClaim", domain, statement, kerr, lerr)
		}
		return false
	}
	if len(ev.Claims) != 1 || ev.Claims[0].FactID != id {
		t.Fatalf("(%q,%q): EvidenceFor ids %+v, want %s", domain, statement, ev.Claims, id)
	}
	if lerr != nil || kerr != nil {
		// Over one side's bounds (statement or domain length, …):
		// nothing to compare, but the id was not the reason.
		if errors.Is(lerr, envelope.ErrFactID) || errors.Is(kerr, envelope.ErrFactID) {
			t.Fatalf("(%q,%q): id refused after FactID accepted it: %v / %v", domain, statement, lerr, kerr)
		}
		return true
	}
	if claim.FactID != id {
		t.Fatalf("(%q,%q): NewClaim id %s, envelope %s", domain, statement, claim.FactID, id)
	}
	kf.ID = claim.FactID
	if err := kf.Validate(); err != nil {
		t.Fatalf("(%q,%q): knowledge refuses lip's id: %v", domain, statement, err)
	}
	kf.ID = envelope.MustFactID(eff, statement+".")
	if err := kf.Validate(); !errors.Is(err, knowledge.ErrInvalidFact) {
		t.Fatalf("(%q,%q): knowledge accepts another statement's id: %v", domain, statement, err)
	}
	f, err := FactFor(Entry{ID: claim.ID(), Claim: claim, State: Accepted}, fp("alice"), t0)
	if err != nil || f.ID != claim.FactID {
		t.Fatalf("(%q,%q): FactFor id %q (%v), claim id %s", domain, statement, f.ID, err, claim.FactID)
	}
	return true
}

func TestFactIDAgrees(t *testing.T) {
	for _, c := range []struct {
		domain, statement string
		names             bool
	}{
		{"geo", "Paris is the capital of France.", true},
		{"", "Water boils at 100 °C.", true}, // DefaultDomain
		{"日本", "水は100度で沸騰する", true},
		{"d", "<b>&</b> \u2028 \"q\"", true},
		{"d", "\ufffd", true}, // U+FFFD is valid; "\xff" must not share its id
		{"d", "", false},
		{"d", "\xff", false},
		{"d", "ok\xfe\xff", false},
		{"d", "trunc\xc3", false},
		{"d", "\xed\xa0\x80", false}, // an encoded surrogate
		{"\xff", "s", false},
		{"ok\xc0\x80", "s", false}, // overlong NUL
	} {
		if got := checkFactIDAgrees(t, c.domain, c.statement); got != c.names {
			t.Errorf("(%q,%q) names a fact: %v, want %v", c.domain, c.statement, got, c.names)
		}
	}
}

// FuzzFactIDAgrees: for any domain and statement, no path panics and lip
// and knowledge agree on the fact id, or both refuse the pair.
func FuzzFactIDAgrees(f *testing.F) {
	f.Add("geo", "Paris is the capital of France.")
	f.Add("", "\u2028<>&")
	f.Add("d", "\xff\xfe")
	f.Add("\xed\xa0\x80", "s")
	f.Fuzz(func(t *testing.T, domain, statement string) {
		named := checkFactIDAgrees(t, domain, statement)
		eff := domain
		if eff == "" {
			eff = DefaultDomain
		}
		if want := statement != "" && utf8.ValidString(eff) && utf8.ValidString(statement); named != want {
			t.Fatalf("(%q,%q) named a fact: %v, want %v", domain, statement, named, want)
		}
	})
}
