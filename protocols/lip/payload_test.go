package lip

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	mrand "math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/lip/extract"
	"github.com/web4p2p/web4p2p/protocols/lip/fetch"
)

func testBuilder(seed byte) *Builder {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32))
	return &Builder{Key: key, AgentID: "agent-" + string(rune('a'+seed%26)), Now: func() time.Time { return t0 },
		Rand: mrand.NewChaCha8([32]byte{seed})}
}

func validator() *envelope.Validator {
	cfg := envelope.DefaultConfig("")
	cfg.Gossip = true
	cfg.Now = func() time.Time { return t0 }
	return envelope.NewValidator(cfg)
}

func TestBuildersPassTheValidator(t *testing.T) {
	b := testBuilder(1)
	res := &fetch.Result{URI: "https://news.example/a", SHA256: sum("body"), RetrievedAt: t0}
	claims := []extract.Claim{
		{Statement: "Paris is in France.", Verdict: extract.True, Confidence: 0.8, Extractor: "json_claims", Evidence: `"Paris is in France."`},
		{Statement: "The Moon is cheese.", Domain: "astro", Verdict: extract.False, Confidence: 0.9, Extractor: "claimreview", Reviewer: "FC"},
	}
	ev := EvidenceFor(res, claims, "2 claims from json_claims, claimreview")
	if ev.Confidence < 0.849 || ev.Confidence > 0.851 || ev.Claims[0].Domain != DefaultDomain {
		t.Fatalf("evidence %+v", ev)
	}
	prov := Provenance{URI: res.URI, RetrievedAt: t0, ContentSHA256: res.SHA256, Tier: envelope.TierMedium}

	f := newFixture(t, nil, nil)
	mustSubmit(t, f.q, mkClaim("The Moon is made of cheese.", "https://blog.example/moon", extract.True))
	rev := mustSubmit(t, f.q, mkClaim("The Moon is made of cheese.", "https://www.factcheck.example/moon", extract.False))
	blog, _ := f.q.Get(mkClaim("The Moon is made of cheese.", "https://blog.example/moon", extract.True).ID())

	build := []struct {
		name string
		f    func() (*Message, error)
		t    envelope.Type
	}{
		{"fetch", func() (*Message, error) {
			return b.Fetch(Broadcast, FetchPayload{URI: "https://news.example/a", Constraints: []string{"Paris is in France."}})
		}, envelope.LIPFetch},
		{"fetch query", func() (*Message, error) { return b.Fetch(Broadcast, FetchPayload{Query: "capital of France"}) }, envelope.LIPFetch},
		{"evidence", func() (*Message, error) { return b.Evidence(Broadcast, prov, ev) }, envelope.LIPEvidence},
		{"conflict", func() (*Message, error) { return b.Conflict(Broadcast, f.conflict[0]) }, envelope.LIPConflict},
		{"accept", func() (*Message, error) { return b.Accept(Broadcast, rev) }, envelope.LIPAccept},
		{"reject", func() (*Message, error) { return b.Reject(Broadcast, blog) }, envelope.LIPReject},
	}
	v := validator()
	for _, c := range build {
		t.Run(c.name, func(t *testing.T) {
			m, err := c.f()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(m.Wire, []byte(`"lip":"1.0"`)) {
				t.Fatalf("not a lip envelope: %s", m.Wire)
			}
			env, err := v.Validate(m.Wire)
			if err != nil {
				t.Fatalf("validator: %v\n%s", err, m.Wire)
			}
			if env.Type != c.t || (c.t != envelope.LIPFetch && env.Source == nil) {
				t.Fatalf("type %v source %v", env.Type, env.Source)
			}
			p, err := Decode(env)
			if err != nil {
				t.Fatal(err)
			}
			back, _ := json.Marshal(p)
			if !bytes.Equal(back, env.Payload) && c.t != envelope.LIPFetch {
				// JCS orders keys, so compare semantically.
				var a, bb any
				json.Unmarshal(back, &a)
				json.Unmarshal(env.Payload, &bb)
				ja, _ := json.Marshal(a)
				jb, _ := json.Marshal(bb)
				if !bytes.Equal(ja, jb) {
					t.Fatalf("round trip:\n%s\n%s", ja, jb)
				}
			}
		})
	}
	// Evidence from a peer becomes claims with that peer as origin.
	m, _ := b.Evidence(Broadcast, prov, ev)
	env, err := validator().Validate(m.Wire)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := EvidenceClaims(env)
	if err != nil || len(cs) != 2 {
		t.Fatal(cs, err)
	}
	if cs[0].Origin != env.Sender.Fingerprint || cs[1].Verdict != extract.False || cs[1].Reviewer != "FC" ||
		cs[0].Provenance.ContentSHA256 != res.SHA256 || !cs[0].Provenance.Complete() {
		t.Fatalf("claims %+v", cs)
	}
}

func TestBuilderRefuses(t *testing.T) {
	b := testBuilder(2)
	for name, p := range map[string]FetchPayload{
		"neither":    {},
		"file uri":   {URI: "file:///etc/passwd"},
		"gopher uri": {URI: "gopher://x.example/"},
		"long":       {Query: strings.Repeat("q", 5000)},
	} {
		if _, err := b.Fetch(Broadcast, p); !errors.Is(err, ErrBuild) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := b.Build(envelope.Hello, Broadcast, nil, map[string]any{}); !errors.Is(err, ErrBuild) {
		t.Fatal("CIP type accepted")
	}
	if _, err := b.Build(envelope.LIPEvidence, Broadcast, nil, EvidencePayload{}); !errors.Is(err, ErrBuild) {
		t.Fatal("evidence without source accepted")
	}
	if _, err := (&Builder{}).Fetch(Broadcast, FetchPayload{Query: "x"}); !errors.Is(err, ErrBuild) {
		t.Fatal("no key accepted")
	}
	if _, err := b.Accept(Broadcast, Entry{State: Pending}); !errors.Is(err, ErrBuild) {
		t.Fatal("pending accepted")
	}
}

func TestEvidenceClaimsChecks(t *testing.T) {
	b := testBuilder(3)
	prov := Provenance{URI: "https://x.example/", RetrievedAt: t0, ContentSHA256: sum("x")}
	good := EvidenceFor(&fetch.Result{SHA256: sum("x")}, []extract.Claim{{Statement: "S.", Verdict: extract.True, Confidence: 0.7, Extractor: "e"}}, "")
	forged := good
	forged.Claims = []EvidenceClaim{good.Claims[0]}
	forged.Claims[0].FactID = sum("forged")
	dangling := good
	dangling.Evidence = []EvidenceItem{{Claim: 5, Extractor: "e", Snippet: ""}}
	for name, p := range map[string]EvidencePayload{"forged fact_id": forged, "dangling evidence": dangling} {
		m, err := b.Evidence(Broadcast, prov, p)
		if err != nil {
			t.Fatal(err)
		}
		env, err := validator().Validate(m.Wire)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := EvidenceClaims(env); !errors.Is(err, ErrInvalidPayload) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Decode(nil); !errors.Is(err, ErrInvalidPayload) {
		t.Fatal(err)
	}
}

func FuzzEvidenceClaims(f *testing.F) {
	ev := EvidenceFor(&fetch.Result{SHA256: sum("x")}, []extract.Claim{{Statement: "S.", Verdict: extract.True, Confidence: 0.7, Extractor: "e"}}, "n")
	seed, _ := json.Marshal(ev)
	f.Add(seed)
	f.Add([]byte(`{"claims":[],"evidence":[],"confidence":0,"extraction_notes":"","content_sha256":"` + sum("") + `"}`))
	f.Add([]byte(`{"claims":[{"fact_id":"00","statement":"x"}]}`))
	if err := Register(); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		env := &envelope.Envelope{Family: envelope.LIP, Type: envelope.LIPEvidence, Payload: payload,
			Sender: envelope.Sender{Fingerprint: fp("fuzzer")},
			Source: &envelope.Source{URI: "https://x.example/", TrustTier: envelope.TierLow, RetrievedAt: t0}}
		cs, err := EvidenceClaims(env)
		if err != nil {
			if !errors.Is(err, ErrInvalidPayload) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		for _, c := range cs {
			if err := c.Validate(); err != nil {
				t.Fatalf("accepted an invalid claim: %v", err)
			}
		}
	})
}

func (b *Builder) fingerprint() string {
	return envelope.Fingerprint(b.Key.Public().(ed25519.PublicKey))
}

func FuzzDecode(f *testing.F) {
	f.Add(uint8(0), []byte(`{"uri":"https://x.example/","constraints":["a"]}`))
	f.Add(uint8(2), []byte(`{"claim_id":"`+sum("a")+`","fact_id":"`+sum("b")+`","with_claim_id":"`+sum("c")+`","with_fact_id":"`+sum("d")+`","kind":"contradiction","severity":"high","statement":"s"}`))
	f.Add(uint8(3), []byte(`{"claim_id":"`+sum("a")+`","fact_id":"`+sum("b")+`","statement":"s","domain":"d","verdict":"true","content_sha256":"`+sum("c")+`","reason":"tier","corroborators":[]}`))
	f.Add(uint8(4), []byte(`{"claim_id":"`+sum("a")+`","fact_id":"`+sum("b")+`","statement":"s","reason":"expired","detail":""}`))
	if err := Register(); err != nil {
		f.Fatal(err)
	}
	types := envelope.Types(envelope.LIP)
	f.Fuzz(func(t *testing.T, which uint8, payload []byte) {
		env := &envelope.Envelope{Family: envelope.LIP, Type: types[int(which)%len(types)], Payload: payload}
		v, err := Decode(env)
		if err != nil {
			if !errors.Is(err, ErrInvalidPayload) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		// Whatever decoded must encode again and still satisfy the schema.
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("re-encode %T: %v", v, err)
		}
		if err := envelope.ValidatePayload(env.Type, b); err != nil {
			t.Fatalf("re-encoded %v payload fails its schema: %v\n%s", env.Type, err, b)
		}
	})
}
