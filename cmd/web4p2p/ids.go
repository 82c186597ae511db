package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/web4p2p/web4p2p/node/api"
	"github.com/web4p2p/web4p2p/node/human"
	"github.com/web4p2p/web4p2p/protocols/lip"
	"github.com/web4p2p/web4p2p/trust"
)

// Shortened IDs. Tables print each ID as the shortest prefix that tells it
// apart from the others in the same table, never shorter than a minimum,
// and every command taking an ID accepts such a prefix back: it is resolved
// against what the node knows, and an ambiguous prefix is one error line
// saying how many IDs it matches.
const (
	// minPeerPrefix: every Ed25519 PeerID starts with "12D3KooW", so a
	// PeerID prefix needs 4 more characters to say anything.
	minPeerPrefix = 12
	// minIDPrefix is the shortest prefix shown of other IDs (hex digests,
	// UUIDs): 8 characters, like a short git hash.
	minIDPrefix = 8
	// minFullPeerID is the length of the shortest PeerID in use (a
	// base58 sha256 multihash, "Qm…"); Ed25519 ones have 52 characters.
	minFullPeerID = 46
)

// shortIDs returns, for each ID of ids, its shortest prefix of at least min
// characters that no other ID in ids shares. Equal IDs get their full text.
func shortIDs(ids []string, min int) map[string]string {
	sorted := append([]string(nil), ids...)
	sort.Strings(sorted)
	out := make(map[string]string, len(ids))
	for i, id := range sorted {
		n := min
		// In sorted order the longest common prefix with any other ID is
		// the one with a neighbour.
		for _, j := range []int{i - 1, i + 1} {
			if j < 0 || j >= len(sorted) || sorted[j] == id {
				continue
			}
			if c := commonPrefix(id, sorted[j]) + 1; c > n {
				n = c
			}
		}
		if n > len(id) {
			n = len(id)
		}
		out[id] = id[:n]
	}
	return out
}

func commonPrefix(a, b string) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

// resolvePrefix finds the one candidate that equals s or starts with it.
// kind names what is looked for ("peer", "fact") in the error.
func resolvePrefix(kind, s string, candidates []string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("empty %s id", kind)
	}
	seen := map[string]bool{}
	var match []string
	for _, c := range candidates {
		if c == s {
			return c, nil
		}
		if strings.HasPrefix(c, s) && !seen[c] {
			seen[c] = true
			match = append(match, c)
		}
	}
	switch len(match) {
	case 1:
		return match[0], nil
	case 0:
		return "", fmt.Errorf("no %s matches %q", kind, s)
	default:
		return "", fmt.Errorf("%s id %q is ambiguous: it matches %d %ss (give more characters)", kind, s, len(match), kind)
	}
}

// resolvePeer turns a PeerID, a fingerprint or a prefix of either (as the
// tables show them) into the full form, asking the node for the peers it
// knows (connected ones and those in the trust ledger).
//
// A complete PeerID or fingerprint the node does not know yet is used as
// it is (a short string can decode as a PeerID too, so length decides).
func resolvePeer(ctx context.Context, cl *apiClient, s string) (string, error) {
	if trust.CheckFingerprint(s) == nil {
		return s, nil
	}
	if _, err := peer.Decode(s); err == nil && len(s) >= minFullPeerID {
		return s, nil
	}
	var ps struct {
		Peers []api.Peer `json:"peers"`
	}
	if err := cl.call(ctx, "GET", "/v1/peers", nil, &ps); err != nil {
		return "", err
	}
	var tr struct {
		Trust []api.TrustEntry `json:"trust"`
	}
	if err := cl.call(ctx, "GET", "/v1/trust", nil, &tr); err != nil {
		return "", err
	}
	// A PeerID and its fingerprint are one peer: match on both, count
	// peers, answer with the PeerID when it is known.
	byFP := map[string]string{}
	var ids, fps []string
	for _, p := range ps.Peers {
		ids = append(ids, p.PeerID)
		if p.Fingerprint != "" {
			byFP[p.Fingerprint] = p.PeerID
		}
	}
	for _, e := range tr.Trust {
		if e.PeerID != "" {
			ids = append(ids, e.PeerID)
			byFP[e.Fingerprint] = e.PeerID
		} else {
			fps = append(fps, e.Fingerprint)
		}
	}
	for fp := range byFP {
		fps = append(fps, fp)
	}
	var cands []string
	for _, id := range ids {
		if strings.HasPrefix(id, s) {
			cands = append(cands, id)
		}
	}
	for _, fp := range fps {
		if !strings.HasPrefix(fp, s) {
			continue
		}
		if id := byFP[fp]; id != "" {
			cands = append(cands, id)
		} else {
			cands = append(cands, fp)
		}
	}
	return resolvePrefix("peer", s, cands)
}

// resolveFact resolves a fact id prefix against the node's facts.
func resolveFact(ctx context.Context, cl *apiClient, s string) (string, error) {
	var out struct {
		Facts []factView `json:"facts"`
	}
	if err := cl.call(ctx, "GET", "/v1/facts", nil, &out); err != nil {
		return "", err
	}
	ids := make([]string, len(out.Facts))
	for i, f := range out.Facts {
		ids[i] = f.ID
	}
	return resolvePrefix("fact", s, ids)
}

// resolveDecision resolves a pending decision id prefix.
func resolveDecision(ds []human.PendingDecision, s string) (string, error) {
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	return resolvePrefix("decision", s, ids)
}

// resolveAny resolves the id `why` is given: a prefix of a fact, claim or
// pending decision id, or (when nothing matches) the id as written, since
// causal memory also holds message ids the node does not list.
func resolveAny(ctx context.Context, cl *apiClient, s string) (string, error) {
	var ids []string
	var facts struct {
		Facts []factView `json:"facts"`
	}
	if cl.call(ctx, "GET", "/v1/facts", nil, &facts) == nil {
		for _, f := range facts.Facts {
			ids = append(ids, f.ID)
		}
	}
	var ds struct {
		Decisions []human.PendingDecision `json:"decisions"`
	}
	if cl.call(ctx, "GET", "/v1/human/decisions", nil, &ds) == nil {
		for _, d := range ds.Decisions {
			ids = append(ids, d.ID, d.Cause)
		}
	}
	var cs struct {
		Claims []lip.Entry `json:"claims"`
	}
	if cl.call(ctx, "GET", "/v1/lip/claims", nil, &cs) == nil {
		for _, e := range cs.Claims {
			ids = append(ids, e.ID)
		}
	}
	id, err := resolvePrefix("id", s, ids)
	if err != nil && strings.HasPrefix(err.Error(), "no id matches") {
		return s, nil
	}
	return id, err
}
