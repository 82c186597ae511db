package trust

import "time"

// PeerState is everything the FSM knows about one peer. It is a value:
// Step never modifies the PeerState it is given. The zero value is a peer
// in state Unknown.
type PeerState struct {
	// Peer is the fingerprint (lowercase hex SHA-256 of the Ed25519 key).
	Peer string `json:"peer"`
	// PeerID is the libp2p PeerID string, when known.
	PeerID string `json:"peer_id,omitempty"`
	// State is the current trust state (0 is read as Unknown).
	State State `json:"state"`
	// Since is when the peer entered State.
	Since time.Time `json:"since"`
	// UntrustedAt starts the cooldown: the last time the peer became (or,
	// through a new bad handshake, again proved itself) untrusted.
	UntrustedAt time.Time `json:"untrusted_at"`
	// Invalid holds the times of invalid messages still inside the window,
	// oldest first.
	Invalid []time.Time `json:"invalid,omitempty"`
	// LastFailure is the time of the last invalid message, anomaly or lost
	// conflict; verified knowledge needs none within the window.
	LastFailure time.Time `json:"last_failure"`
	// AcceptedFacts counts the peer's qualifying accepted facts since it
	// last entered probing.
	AcceptedFacts int `json:"accepted_facts"`
	// Vouched is set when a trusted peer vouched for this one; the next
	// valid handshake then skips the cooldown. Consumed on entering probing.
	Vouched bool `json:"vouched,omitempty"`
	// Anchor is set once the operator's trust-anchor listing was applied.
	Anchor bool `json:"anchor,omitempty"`
	// Seq is the number of transitions recorded for this peer.
	Seq uint64 `json:"seq"`
}

// current returns State, reading the zero value as Unknown.
func (p PeerState) current() State {
	if p.State == 0 {
		return Unknown
	}
	return p.State
}

func (p PeerState) clone() PeerState {
	p.Invalid = append([]time.Time(nil), p.Invalid...)
	return p
}

// Counters is the snapshot of a peer's counters stored with a transition.
type Counters struct {
	InvalidInWindow int  `json:"invalid_in_window"`
	AcceptedFacts   int  `json:"accepted_facts"`
	Vouched         bool `json:"vouched"`
}

// Transition records one state change (SPEC §5: peer, from, to, event,
// cause msg_id, time, counters).
type Transition struct {
	Peer   string `json:"peer"`
	PeerID string `json:"peer_id,omitempty"`
	From   State  `json:"from"`
	To     State  `json:"to"`
	Event  Event  `json:"event"`
	// Cause is the msg_id of the message that caused it, or the operator's
	// reason for a manual override.
	Cause    string    `json:"cause,omitempty"`
	Time     time.Time `json:"time"`
	Counters Counters  `json:"counters"`
	// Seq numbers the peer's transitions from 1.
	Seq uint64 `json:"seq"`
}

// Input is an Event with the details some rules need.
type Input struct {
	Event Event
	// Cause is the msg_id (or operator reason) recorded on a transition.
	Cause string
	// Confirmations is, for FactAccepted, how many trusted confirmations
	// the fact had. Zero means "not reported": the fact is taken to have met
	// the rule, because knowledge only reports a fact accepted once its
	// quorum of trusted confirmers exists (keep the knowledge quorum ≥
	// Config.VerifiedConfirmations, or report the count).
	Confirmations int
}

// FSM is the pure trust state machine. It holds only configuration; one FSM
// may be used from many goroutines.
type FSM struct {
	cfg Config
}

// NewFSM returns an FSM; zero fields of cfg take their defaults.
func NewFSM(cfg Config) *FSM { return &FSM{cfg: cfg.normalized()} }

// Config returns the effective configuration.
func (f *FSM) Config() Config { return f.cfg }

// CooldownOver reports whether an untrusted peer's cooldown has elapsed at
// now (or a vouch lets it skip the cooldown). It is true for any peer that
// is not untrusted.
func (f *FSM) CooldownOver(p PeerState, now time.Time) bool {
	if p.current() != Untrusted {
		return true
	}
	return p.Vouched || !now.Before(p.UntrustedAt.Add(f.cfg.Cooldown))
}

// Step applies ev at time now. See StepInput.
func (f *FSM) Step(p PeerState, ev Event, now time.Time) (PeerState, *Transition) {
	return f.StepInput(p, Input{Event: ev}, now)
}

// StepInput applies one input to a peer's state at time now and returns the
// new state and, if the trust state changed, the transition. Counter-only
// changes (an invalid message below the threshold, a vouch, a fact that does
// not yet promote) return the updated PeerState and a nil Transition. An
// invalid event returns p unchanged.
//
// The rules, row by row of SPEC §5:
//
//	unknown, untrusted (cooldown over or vouched) + ValidHandshake → probing
//	any but blacklisted + BadSignature                            → untrusted (cooldown restarts)
//	any + FingerprintMismatch                                     → blacklisted
//	probing + FactAccepted, ≥VerifiedFacts, no failure in window  → trusted
//	probing + ConflictLost                                        → untrusted
//	probing + InvalidMessage/TemporaryAnomaly, ≥threshold in window → untrusted
//	trusted + ConflictLost/InvalidMessage/TemporaryAnomaly        → probing
//	unknown/untrusted/probing/trusted + ProvenMalice              → blacklisted
//	blacklisted + ManualOverride                                  → probing
//	unknown/untrusted/probing + Anchor                            → trusted
//	any but blacklisted/untrusted + AttestedUntrusted             → untrusted
//	trusted + ManualDemote                                        → probing
//	unknown/probing/trusted + ManualDistrust                      → untrusted (cooldown starts)
//	any but blacklisted + ManualBlacklist                         → blacklisted
//	blacklisted + anything but ManualOverride                     → unchanged
//
// Decisions where the SPEC is silent: ProvenMalice also blacklists an
// unknown peer (a verifiable proof can arrive about a peer we never met,
// SPEC §5 propagation); an Anchor does not lift a blacklisting (only the
// operator's explicit override does); entering probing clears the accepted
// facts count and consumes a vouch; entering untrusted drops any earlier
// vouch. Invalid messages stay in the window across state changes (except a
// manual override, which starts clean): a peer back from its cooldown with
// three recent invalid messages is demoted again by the next one, which is
// the literal "≥3 in the window" rule.
func (f *FSM) StepInput(p PeerState, in Input, now time.Time) (PeerState, *Transition) {
	if !in.Event.Valid() {
		return p, nil
	}
	from := p.current()
	if from == Blacklisted && in.Event != ManualOverride {
		return p, nil
	}
	n := p.clone()
	n.State = from
	n.Invalid = pruneBefore(n.Invalid, now.Add(-f.cfg.Window))
	to := from

	switch in.Event {
	case ValidHandshake:
		if from == Unknown || (from == Untrusted && f.CooldownOver(n, now)) {
			to = Probing
		}
	case BadSignature:
		to = Untrusted
		n.UntrustedAt = now
		n.Vouched = false
	case FingerprintMismatch:
		to = Blacklisted
	case FactAccepted:
		if from == Probing {
			if in.Confirmations == 0 || in.Confirmations >= f.cfg.VerifiedConfirmations {
				n.AcceptedFacts++
			}
			if n.AcceptedFacts >= f.cfg.VerifiedFacts && !f.failedInWindow(n, now) {
				to = Trusted
			}
		}
	case ConflictLost:
		n.LastFailure = now
		switch from {
		case Probing:
			to = Untrusted
		case Trusted:
			to = Probing
		}
	case InvalidMessage, TemporaryAnomaly:
		n.LastFailure = now
		n.Invalid = append(n.Invalid, now)
		if len(n.Invalid) > maxInvalidTracked {
			n.Invalid = append([]time.Time(nil), n.Invalid[len(n.Invalid)-maxInvalidTracked:]...)
		}
		switch from {
		case Probing:
			if len(n.Invalid) >= f.cfg.InvalidThreshold {
				to = Untrusted
			}
		case Trusted:
			to = Probing
		}
	case ProvenMalice:
		to = Blacklisted
	case ManualOverride:
		if from == Blacklisted {
			to = Probing
			n.Invalid = nil
			n.LastFailure = time.Time{}
		}
	case Anchor:
		n.Anchor = true
		if from != Trusted {
			to = Trusted
		}
	case Vouched:
		n.Vouched = true
	case AttestedUntrusted:
		if from != Untrusted {
			to = Untrusted
		}
	case ManualDemote:
		if from == Trusted {
			to = Probing
		}
	case ManualDistrust:
		if from != Untrusted {
			to = Untrusted
		}
	case ManualBlacklist:
		to = Blacklisted
	}

	if to == from {
		return n, nil
	}
	switch to {
	case Probing:
		n.AcceptedFacts = 0
		n.Vouched = false
	case Untrusted:
		n.UntrustedAt = now
		n.Vouched = false // a vouch given before the fall does not shorten this cooldown
	}
	n.State = to
	n.Since = now
	n.Seq++
	t := &Transition{
		Peer:     n.Peer,
		PeerID:   n.PeerID,
		From:     from,
		To:       to,
		Event:    in.Event,
		Cause:    in.Cause,
		Time:     now,
		Counters: n.Counters(),
		Seq:      n.Seq,
	}
	return n, t
}

func (f *FSM) failedInWindow(p PeerState, now time.Time) bool {
	return !p.LastFailure.IsZero() && now.Sub(p.LastFailure) < f.cfg.Window
}

// pruneBefore drops times strictly before cutoff (the list is oldest first).
func pruneBefore(ts []time.Time, cutoff time.Time) []time.Time {
	i := 0
	for i < len(ts) && ts[i].Before(cutoff) {
		i++
	}
	return ts[i:]
}

// Counters returns the snapshot of p's counters.
func (p PeerState) Counters() Counters {
	return Counters{InvalidInWindow: len(p.Invalid), AcceptedFacts: p.AcceptedFacts, Vouched: p.Vouched}
}
