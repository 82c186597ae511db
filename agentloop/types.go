package agentloop

import (
	"context"
	"fmt"
	"time"

	"github.com/web4p2p/web4p2p/internal/enum"
	"github.com/web4p2p/web4p2p/protocols/envelope"
)

// ItemKind says what an inbox item is. The zero value is invalid.
type ItemKind uint8

// Item kinds.
const (
	// ItemHumanIntent: an HCP_INTENT that passed the consent gate.
	ItemHumanIntent ItemKind = iota + 1
	// ItemPeerIntent: a CIP INTENT request from a peer.
	ItemPeerIntent
	// ItemIntentReply: a peer's CIP INTENT reply (Ref = our request's id).
	ItemIntentReply
	// ItemHumanDecision: an HCP_DECISION.
	ItemHumanDecision
	// ItemHumanFeedback: an HCP_FEEDBACK.
	ItemHumanFeedback
	// ItemHumanContext: an HCP_CONTEXT.
	ItemHumanContext
	// ItemIntentDone: the human intent Ref is finished (no longer active).
	ItemIntentDone
	// ItemMessage: any other message worth remembering (facts, evidence).
	ItemMessage
)

var itemKindNames = []string{"", "human_intent", "peer_intent", "intent_reply", "human_decision",
	"human_feedback", "human_context", "intent_done", "message"}

// String returns the snake_case name.
func (k ItemKind) String() string { return enum.String(itemKindNames, k) }

// Item is one thing for the loop to process. The node fills it from a
// verified envelope.
type Item struct {
	Kind ItemKind
	// ID is the item's msg_id; it names the item in causal memory.
	ID string
	// From is the sender's fingerprint ("" for the local human).
	From string
	// Topic, Goal and Priority of intents (wire spellings: HCP goals for
	// human intents, CIP goals for peer intents).
	Topic    string
	Goal     string
	Priority string
	// Text carries context, feedback, a decision's choice, a reply's
	// decision — whatever the item says in words.
	Text string
	// Alternatives and Rationale of a human decision.
	Alternatives []string
	Rationale    string
	// Ref is the msg_id this item refers to (reply_to); it is also a cause.
	Ref string
	// Causes are further causal parents (msg_ids).
	Causes []string
	// Received is when the item entered the inbox; Submit sets it when zero.
	Received time.Time
}

func (it *Item) check() error {
	switch {
	case it.Kind < ItemHumanIntent || it.Kind > ItemMessage:
		return fmt.Errorf("%w: kind: invalid (%d)", ErrItem, it.Kind)
	case it.ID == "" || len(it.ID) > 256:
		return fmt.Errorf("%w: id: must be 1..256 bytes", ErrItem)
	case (it.Kind == ItemHumanIntent || it.Kind == ItemPeerIntent) && it.Topic == "":
		return fmt.Errorf("%w: topic: required for %v", ErrItem, it.Kind)
	case it.Kind == ItemIntentReply && it.Ref == "", it.Kind == ItemIntentDone && it.Ref == "":
		return fmt.Errorf("%w: ref: required for %v", ErrItem, it.Kind)
	case len(it.Causes) > MaxCauses:
		return fmt.Errorf("%w: causes: more than %d", ErrItem, MaxCauses)
	}
	return nil
}

// ActionKind says what an Action asks the node to do. The zero value is
// invalid.
type ActionKind uint8

// Action kinds.
const (
	// ActSendIntent: send a CIP INTENT request to peer To.
	ActSendIntent ActionKind = iota + 1
	// ActReplyIntent: answer peer To's INTENT ReplyTo with Reply.
	ActReplyIntent
	// ActRequestDecision: ask the human for an HCP_DECISION on Topic,
	// offering Alternatives (through consent gate and pacer).
	ActRequestDecision
)

var actionKindNames = []string{"", "send_intent", "reply_intent", "request_decision"}

// String returns the snake_case name.
func (k ActionKind) String() string { return enum.String(actionKindNames, k) }

// Reply answers a peer's INTENT. The zero value is invalid.
type Reply uint8

// Replies (CIP INTENT decision).
const (
	Accept Reply = iota + 1
	Defer
)

var replyNames = []string{"", "accept", "defer"}

// String returns the wire form ("accept", "defer").
func (r Reply) String() string { return enum.String(replyNames, r) }

// Action is one thing the loop decided to do; the Actor performs it.
type Action struct {
	Kind ActionKind
	// ID is a fresh UUID v4. The node should use it as the msg_id of the
	// envelope it sends, so replies (Ref) link back in causal memory.
	ID string
	// To is the peer's fingerprint (empty for the human).
	To string
	// Topic, Goal (CIP goal) and Priority (CIP priority) of a request.
	Topic    string
	Goal     string
	Priority string
	Context  string
	// ReplyTo and Reply of an INTENT reply; Reason explains it.
	ReplyTo string
	Reply   Reply
	Reason  string
	// Alternatives offered with a RequestDecision.
	Alternatives []string
	// Decision is the causal-memory id of the decision that produced it.
	Decision string
}

// Actor performs actions: the node's implementation sends through the
// router under HCP consent and pacing. Act is called on the loop goroutine
// with a context bounded by Config.ActTimeout; it may block until then.
// Its error is recorded (event and causal memory) and does not stop the
// loop.
type Actor interface {
	Act(ctx context.Context, a Action) error
}

// ActorFunc adapts a function to an Actor.
type ActorFunc func(ctx context.Context, a Action) error

// Act calls f.
func (f ActorFunc) Act(ctx context.Context, a Action) error { return f(ctx, a) }

// Peer is a peer as the loop sees it for intent propagation.
type Peer struct {
	Fingerprint  string
	AgentID      string
	Capabilities []string
	Presence     envelope.Presence // zero when unknown
}

// PeerSource lists the peers the node may send INTENT to (already past the
// trust gate: probing or trusted). Called on the loop goroutine; must not
// block for long.
type PeerSource interface {
	Peers() []Peer
}

// PeersFunc adapts a function to a PeerSource.
type PeersFunc func() []Peer

// Peers calls f.
func (f PeersFunc) Peers() []Peer { return f() }

// Orientation is the outcome of the orient phase.
type Orientation struct {
	LRI           int
	Presence      envelope.Presence
	Previous      envelope.Presence
	Load          LoadSample
	InboxDepth    int
	Latency       time.Duration // EWMA
	ActiveIntents int
}

// Reflection summarises one cycle for the Reflect hook.
type Reflection struct {
	Cycle     uint64
	Processed int
	Acted     int
	Failed    int
	Drift     float64 // share of the last N acted intents off mission
	Drifting  bool
	Recorded  int // causal-memory nodes written
}

// Delegate hooks the phases of the cycle, in the style of memberlist's
// Delegate. Every method is called on the loop goroutine, in phase order
// (Perceive, Orient, Decide per item, Acted per action, Reflect), never
// concurrently with another; none may block for long — the inbox fills
// while a hook runs — and none may call Loop.Cycle (deadlock). Embed
// NopDelegate to implement only some.
type Delegate interface {
	// Perceive sees the drained batch and returns what to process (it may
	// filter or reorder; returning nil drops the batch).
	Perceive(ctx context.Context, batch []Item) []Item
	// Orient sees the computed LRI and presence.
	Orient(ctx context.Context, o Orientation)
	// Decide sees each item with the actions the built-in policy proposes
	// and returns the actions to take.
	Decide(ctx context.Context, it Item, o Orientation, proposed []Action) []Action
	// Acted reports each action after the Actor ran it (err from Act).
	Acted(ctx context.Context, a Action, err error)
	// Reflect ends the cycle.
	Reflect(ctx context.Context, r Reflection)
}

// NopDelegate implements Delegate by passing everything through.
type NopDelegate struct{}

// Perceive returns batch.
func (NopDelegate) Perceive(_ context.Context, batch []Item) []Item { return batch }

// Orient does nothing.
func (NopDelegate) Orient(context.Context, Orientation) {}

// Decide returns proposed.
func (NopDelegate) Decide(_ context.Context, _ Item, _ Orientation, proposed []Action) []Action {
	return proposed
}

// Acted does nothing.
func (NopDelegate) Acted(context.Context, Action, error) {}

// Reflect does nothing.
func (NopDelegate) Reflect(context.Context, Reflection) {}
