package lip

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/lip/extract"
	"github.com/web4p2p/web4p2p/trust"
)

var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

func fp(name string) string {
	s := sha256.Sum256([]byte("peer:" + name))
	return hex.EncodeToString(s[:])
}

func sum(s string) string {
	x := sha256.Sum256([]byte(s))
	return hex.EncodeToString(x[:])
}

// mkClaim builds a valid claim from uri asserting stmt.
func mkClaim(stmt, uri string, v extract.Verdict) Claim {
	c, err := NewClaim(extract.Claim{Statement: stmt, Verdict: v, Confidence: 0.9, Extractor: "test"},
		Provenance{URI: uri, RetrievedAt: t0, ContentSHA256: sum(uri + stmt), ContentType: "text/html"}, "")
	if err != nil {
		panic(err)
	}
	return c
}

func mkTriple(domain, s, p, o, uri string) Claim {
	c, err := NewClaim(extract.Claim{Statement: fmt.Sprintf("%s %s %s", s, p, o), Domain: domain, Subject: s, Predicate: p, Object: o,
		Verdict: extract.True, Confidence: 0.9, Extractor: "test"},
		Provenance{URI: uri, RetrievedAt: t0, ContentSHA256: sum(uri + o)}, "")
	if err != nil {
		panic(err)
	}
	return c
}

// view is a fixed trust view.
type view map[string]trust.State

func (v view) State(fp string) trust.State {
	if s, ok := v[fp]; ok {
		return s
	}
	return trust.Unknown
}

func sameContent(peer string, c Claim) Corroboration {
	return Corroboration{Peer: peer, Kind: SameContent, URI: c.Provenance.URI, ContentSHA256: c.Provenance.ContentSHA256, At: t0}
}

func ownEvidence(peer string, c Claim) Corroboration {
	return Corroboration{Peer: peer, Kind: OwnEvidence, FactID: c.FactID, Verdict: c.Verdict, At: t0}
}

var _ = envelope.TierLow
