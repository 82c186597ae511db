package rtt

import (
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/protocol"
)

// Channel names one of the three RTT channels (SPEC §2). The zero value is
// invalid.
type Channel uint8

// The three channels, each carried by its own libp2p stream per session.
const (
	Control   Channel = 1 // handshake, heartbeats, CIP HELLO/VERIFY/INTENT, errors
	State     Channel = 2 // STATE_UPDATE, HCP_STATE_UPDATE
	Knowledge Channel = 3 // FACT_*, DECISION_SHARE, LIP_*
)

// Protocol IDs, one per channel (SPEC §2 table).
const (
	ProtocolControl   protocol.ID = "/web4/rtt/control/1.0"
	ProtocolState     protocol.ID = "/web4/rtt/state/1.0"
	ProtocolKnowledge protocol.ID = "/web4/rtt/knowledge/1.0"
)

// Channels lists every valid channel in wire order.
var Channels = [numChannels]Channel{Control, State, Knowledge}

const numChannels = 3

// String returns "control", "state" or "knowledge" (or "invalid(N)").
func (c Channel) String() string {
	switch c {
	case Control:
		return "control"
	case State:
		return "state"
	case Knowledge:
		return "knowledge"
	default:
		return fmt.Sprintf("invalid(%d)", uint8(c))
	}
}

// Valid reports whether c is one of the three channels.
func (c Channel) Valid() bool { return c >= Control && c <= Knowledge }

// Protocol returns the libp2p protocol ID that carries c.
func (c Channel) Protocol() protocol.ID {
	switch c {
	case Control:
		return ProtocolControl
	case State:
		return ProtocolState
	case Knowledge:
		return ProtocolKnowledge
	default:
		return ""
	}
}

func (c Channel) index() int { return int(c) - 1 }

// ParseChannel maps "control" | "state" | "knowledge" to a Channel.
func ParseChannel(s string) (Channel, error) {
	switch s {
	case "control":
		return Control, nil
	case "state":
		return State, nil
	case "knowledge":
		return Knowledge, nil
	default:
		return 0, fmt.Errorf("%w: %q (want control|state|knowledge)", ErrUnknownChannel, s)
	}
}

// Sentinel errors. Compare with errors.Is; returned errors wrap them with
// the detail (field, peer, reason).
var (
	// ErrHandshake: the RTT session handshake failed (version mismatch,
	// wrong peer, rejected session, timeout).
	ErrHandshake = errors.New("rtt: handshake failed")
	// ErrTransport: the underlying libp2p stream or connection failed, or
	// the peer broke the framing/flow-control rules.
	ErrTransport = errors.New("rtt: transport error")
	// ErrBackpressure: a bounded queue is full (TrySend at once, Send when
	// its context ends first).
	ErrBackpressure = errors.New("rtt: backpressure")
	// ErrReplay: a frame was already delivered or carries another
	// session's ID. Such frames are dropped and counted; the error appears
	// in the web4.rtt.replay_rejected event (data.error) and the counter
	// Telemetry.ReplayDrops — the session itself keeps running.
	ErrReplay = errors.New("rtt: replayed frame")
	// ErrClosed: the session, the channel or the service is closed.
	// ErrPeerRestarted: the peer answered a resume with "unknown session":
	// it restarted (or freed the session) and lost the session's state.
	// Transport.Err of a session that ended this way wraps it, so the layer
	// above can open a fresh session (the node does, by itself).
	ErrPeerRestarted = errors.New("rtt: peer no longer knows the session")
	ErrClosed        = errors.New("rtt: closed")
	// ErrFrameTooLarge: a payload exceeds the negotiated maximum frame
	// size. It stands alone (it is the caller's mistake, not a transport
	// failure) when returned by Send; a peer sending such a frame yields
	// ErrTransport wrapping ErrFrameTooLarge.
	ErrFrameTooLarge = errors.New("rtt: frame too large")
	// ErrMalformedFrame: bytes that do not decode as a valid frame.
	ErrMalformedFrame = errors.New("rtt: malformed frame")
	// ErrUnknownChannel: a channel value or name outside the three.
	ErrUnknownChannel = errors.New("rtt: unknown channel")
)
