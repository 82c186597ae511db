package router

import (
	"fmt"

	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/trust"
)

// Route names the runtime a message type goes to. The zero value is invalid.
type Route uint8

// Routes of SPEC §9.
const (
	// Handshake: the CIP handshake runtime (HELLO, VERIFY); it feeds the
	// outcome to the TrustFSM.
	Handshake Route = iota + 1
	// PeerState: the peer state table (presence, LRI).
	PeerState
	// AgentLoop: the agent loop's inbox (CIP INTENT).
	AgentLoop
	// Knowledge: knowledge exchange (FACT_*, DECISION_SHARE with its DMP
	// trace, LIP evidence and verdicts).
	Knowledge
	// TrustPropagation: TRUST_ATTEST handling (SPEC §5 propagation).
	TrustPropagation
	// ConsentGate: human messages bound for the agent loop, which pass the
	// HCP consent gate first (SPEC §6).
	ConsentGate
	// HumanState: the human-state table (HCP_HELLO, HCP_STATE_UPDATE).
	HumanState
	// LIPFetcher: the internet fetcher (LIP_FETCH).
	LIPFetcher

	numRoutes = iota + 1
)

var routeNames = [...]string{
	Handshake:        "handshake",
	PeerState:        "peer_state",
	AgentLoop:        "agent_loop",
	Knowledge:        "knowledge",
	TrustPropagation: "trust_propagation",
	ConsentGate:      "consent_gate",
	HumanState:       "human_state",
	LIPFetcher:       "lip_fetcher",
}

// Valid reports whether r is a defined route.
func (r Route) Valid() bool { return r >= Handshake && r < numRoutes }

// String returns the snake_case name of the route, or "invalid(N)".
func (r Route) String() string {
	if !r.Valid() {
		return fmt.Sprintf("invalid(%d)", uint8(r))
	}
	return routeNames[r]
}

// Routes returns every defined route.
func Routes() []Route {
	out := make([]Route, 0, numRoutes-1)
	for r := Handshake; r < numRoutes; r++ {
		out = append(out, r)
	}
	return out
}

// Entry is one row of the routing matrix.
type Entry struct {
	Type  envelope.Type
	Route Route
}

// matrix is SPEC §9, one row per message type.
var matrix = []Entry{
	{envelope.Hello, Handshake},
	{envelope.Verify, Handshake}, // handshake runtime → TrustFSM
	{envelope.StateUpdate, PeerState},
	{envelope.Intent, AgentLoop},
	{envelope.FactPropose, Knowledge},
	{envelope.FactChallenge, Knowledge},
	{envelope.FactConfirm, Knowledge},
	{envelope.FactReject, Knowledge},
	{envelope.DecisionShare, Knowledge}, // + DMP trace
	{envelope.TrustAttest, TrustPropagation},
	{envelope.HCPIntent, ConsentGate},
	{envelope.HCPDecision, ConsentGate},
	{envelope.HCPFeedback, ConsentGate},
	{envelope.HCPContext, ConsentGate},
	{envelope.HCPHello, HumanState},
	{envelope.HCPStateUpdate, HumanState},
	{envelope.LIPFetch, LIPFetcher},
	{envelope.LIPEvidence, Knowledge},
	{envelope.LIPConflict, Knowledge},
	{envelope.LIPAccept, Knowledge},
	{envelope.LIPReject, Knowledge},
}

var routeOf = func() map[envelope.Type]Route {
	m := make(map[envelope.Type]Route, len(matrix))
	for _, e := range matrix {
		m[e.Type] = e.Route
	}
	return m
}()

// Matrix returns a copy of the routing matrix.
func Matrix() []Entry { return append([]Entry(nil), matrix...) }

// RouteFor returns the route of a message type (0, false if none).
func RouteFor(t envelope.Type) (Route, bool) {
	r, ok := routeOf[t]
	return r, ok
}

// gating is SPEC §4.3: the types a remote peer in each state may send.
//
// Decisions where the SPEC is silent or too terse to work:
//   - VERIFY is allowed wherever HELLO is: it completes the HELLO exchange
//     (SPEC §4.2 step 3) before the peer's state can change, so without it
//     no unknown peer could ever reach probing.
//   - LIP_EVIDENCE, LIP_CONFLICT, LIP_ACCEPT and LIP_REJECT from peers are
//     cross-agent corroboration (SPEC §7) and are gated like FACT_*:
//     probing may send them (recorded, weighed only if trusted). LIP_FETCH
//     (asking this node to fetch a URI) is for trusted peers only.
//   - HCP types never come from remote peers; they are accepted only from
//     the local human session (Message.Local), see allowedLocal.
//   - TRUST_ATTEST is also accepted from probing peers. SPEC §5 says a
//     proof-carrying attestation is checked by every receiver itself and
//     acted on by its own authority, so the attester's standing does not
//     matter for proofs; attestations without proof still count only from
//     attesters this node trusts (trust.AttestationBook enforces that).
//     Gating proofs to trusted senders would let an equivocator stay in
//     good standing wherever no trusted peer happened to see both halves.
var gating = map[trust.State][]envelope.Type{
	trust.Unknown:   {envelope.Hello, envelope.Verify},
	trust.Untrusted: {envelope.Hello, envelope.Verify}, // only after the cooldown, see Allowed
	trust.Probing: {envelope.Hello, envelope.Verify, envelope.StateUpdate, envelope.Intent,
		envelope.FactPropose, envelope.FactChallenge, envelope.FactConfirm, envelope.FactReject,
		envelope.DecisionShare, envelope.TrustAttest, envelope.LIPEvidence, envelope.LIPConflict,
		envelope.LIPAccept, envelope.LIPReject},
	trust.Trusted:     append(envelope.Types(envelope.CIP), envelope.Types(envelope.LIP)...), // all remote types
	trust.Blacklisted: nil,                                                                   // none
}

var gatingSet = func() map[trust.State]map[envelope.Type]bool {
	m := map[trust.State]map[envelope.Type]bool{}
	for st, ts := range gating {
		m[st] = map[envelope.Type]bool{}
		for _, t := range ts {
			m[st][t] = true
		}
	}
	return m
}()

// GatingTable returns a copy of the SPEC §4.3 table (state → allowed types).
func GatingTable() map[trust.State][]envelope.Type {
	out := make(map[trust.State][]envelope.Type, len(gating))
	for st, ts := range gating {
		out[st] = append([]envelope.Type(nil), ts...)
	}
	return out
}

// ParseType normalises a type name, accepting both spellings
// (FACT_PROPOSE and FACTPROPOSE).
func ParseType(name string) (envelope.Type, error) {
	t, err := envelope.ParseType(name)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", ErrUnknownType, clip(name))
	}
	return t, nil
}

// Allowed reports whether a remote peer in state st may send a message of
// type typ (either spelling). cooldownOver matters only for untrusted peers:
// their HELLO is allowed only once the cooldown is over (trust.FSM's
// CooldownOver, or trust.Ledger.Standing).
func Allowed(st trust.State, typ string, cooldownOver bool) bool {
	t, err := envelope.ParseType(typ)
	if err != nil {
		return false
	}
	return allowed(st, t, cooldownOver)
}

func allowed(st trust.State, t envelope.Type, cooldownOver bool) bool {
	if st == trust.Untrusted && !cooldownOver {
		return false
	}
	return gatingSet[st][t]
}

// allowedLocal: what this node's own side (the human session through the
// control API, its own LIP pipeline) may inject. CIP types come only from
// peers.
func allowedLocal(t envelope.Type) bool {
	f := t.Family()
	return f == envelope.HCP || f == envelope.LIP
}
