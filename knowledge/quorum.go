package knowledge

import (
	"sort"
	"time"

	"github.com/web4p2p/web4p2p/trust"
)

// Rules are the quorum rules. The zero value behaves like DefaultRules.
type Rules struct {
	// Quorum is how many distinct trusted confirmers accept a fact, and how
	// many distinct trusted rejecters reject it (default 2).
	Quorum int
}

// DefaultRules returns the SPEC defaults.
func DefaultRules() Rules { return Rules{Quorum: DefaultQuorum} }

func (r Rules) quorum() int {
	if r.Quorum <= 0 {
		return DefaultQuorum
	}
	return r.Quorum
}

// Reasons a Result gives for its status.
const (
	ReasonNoVotes           = "no_trusted_votes"
	ReasonAwaitingQuorum    = "awaiting_quorum"
	ReasonQuorum            = "trusted_quorum"
	ReasonTrustedRejects    = "trusted_rejects"
	ReasonProposerUntrusted = "proposer_untrusted"
	ReasonExpired           = "expired_without_quorum"
	ReasonChallenge         = "trusted_challenge"
	ReasonDisagreement      = "trusted_disagreement"
)

// Result is the full outcome of a tally. Voter lists are sorted.
type Result struct {
	Status Status `json:"status"`
	// Reason names the rule that decided Status (Reason* constants).
	Reason string `json:"reason"`
	// Confirmers, Rejecters and Challengers are the trusted voters whose
	// latest vote is of that kind.
	Confirmers  []string `json:"confirmers"`
	Rejecters   []string `json:"rejecters"`
	Challengers []string `json:"challengers"`
	// Uncounted is how many voters' latest votes were recorded but not
	// counted (voter not trusted: probing, unknown, ...).
	Uncounted int `json:"uncounted"`
}

// Supersedes reports whether vote a replaces vote b of the same voter:
// the later Time wins; equal times are broken by the greater MsgID, then by
// the greater Kind (so even two votes sharing a msg_id and time have a
// deterministic winner). This total order is what makes the tally
// independent of delivery order.
func Supersedes(a, b Vote) bool {
	if !a.Time.Equal(b.Time) {
		return a.Time.After(b.Time)
	}
	if a.MsgID != b.MsgID {
		return a.MsgID > b.MsgID
	}
	return a.Kind > b.Kind
}

// Evaluate returns the status of fact f given all the votes seen, the local
// trust view and the time, under DefaultRules. See Rules.Tally.
func Evaluate(f Fact, votes []Vote, view func(fp string) trust.State, now time.Time) Status {
	return DefaultRules().Tally(f, votes, view, now).Status
}

// Tally evaluates a fact. It is pure and independent of the order of votes
// (and of duplicates). The rules, in the order they are applied:
//
//  1. Votes for another fact, by the proposer (the proposer does not count),
//     with an invalid kind, or cast after f.Expires (late) are ignored.
//  2. Per voter only the latest vote counts (Supersedes).
//  3. A vote counts only if view(voter) is trusted; others are recorded in
//     Uncounted (probing votes are "recorded, not counted", SPEC §4.3).
//  4. Proposer untrusted or blacklisted → rejected.
//  5. ≥ Quorum trusted rejecters → rejected (even if confirmers also reach
//     quorum: a trusted quorum objecting outweighs acceptance).
//  6. ≥ Quorum trusted confirmers and no trusted rejecter or challenger →
//     accepted. An accepted fact stays accepted after its expiry, since
//     late votes are ignored.
//  7. now ≥ f.Expires (when set) without acceptance → rejected.
//  8. Any trusted challenger, or trusted confirmers and rejecters at once →
//     disputed (a single trusted reject with no confirmer is not a
//     conflict yet: pending).
//  9. Some trusted vote → pending; none → proposed.
//
// A nil view treats everyone as unknown (nothing counts).
func (r Rules) Tally(f Fact, votes []Vote, view func(fp string) trust.State, now time.Time) Result {
	if view == nil {
		view = func(string) trust.State { return trust.Unknown }
	}
	latest := make(map[string]Vote, len(votes))
	for _, v := range votes {
		if v.FactID != f.ID || v.Voter == "" || v.Voter == f.Proposer || !v.Kind.Valid() {
			continue
		}
		if !f.Expires.IsZero() && v.Time.After(f.Expires) {
			continue
		}
		if cur, ok := latest[v.Voter]; !ok || Supersedes(v, cur) {
			latest[v.Voter] = v
		}
	}
	res := Result{Confirmers: []string{}, Rejecters: []string{}, Challengers: []string{}}
	for voter, v := range latest {
		if view(voter) != trust.Trusted {
			res.Uncounted++
			continue
		}
		switch v.Kind {
		case Confirm:
			res.Confirmers = append(res.Confirmers, voter)
		case Reject:
			res.Rejecters = append(res.Rejecters, voter)
		case Challenge:
			res.Challengers = append(res.Challengers, voter)
		}
	}
	sort.Strings(res.Confirmers)
	sort.Strings(res.Rejecters)
	sort.Strings(res.Challengers)

	q := r.quorum()
	nc, nr, nch := len(res.Confirmers), len(res.Rejecters), len(res.Challengers)
	switch ps := view(f.Proposer); {
	case ps == trust.Untrusted || ps == trust.Blacklisted:
		res.Status, res.Reason = Rejected, ReasonProposerUntrusted
	case nr >= q:
		res.Status, res.Reason = Rejected, ReasonTrustedRejects
	case nc >= q && nr == 0 && nch == 0:
		res.Status, res.Reason = Accepted, ReasonQuorum
	case !f.Expires.IsZero() && !now.Before(f.Expires):
		res.Status, res.Reason = Rejected, ReasonExpired
	case nch > 0:
		res.Status, res.Reason = Disputed, ReasonChallenge
	case nr > 0 && nc > 0:
		res.Status, res.Reason = Disputed, ReasonDisagreement
	case nc+nr > 0:
		res.Status, res.Reason = Pending, ReasonAwaitingQuorum
	default:
		res.Status, res.Reason = Proposed, ReasonNoVotes
	}
	return res
}
