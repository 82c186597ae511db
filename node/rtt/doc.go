// Package rtt is the RTT transport tunnel of web4p2p (SPEC §2): the layer
// between libp2p and the CIP/HCP/LIP runtimes. It gives each pair of peers
// one session with three ordered, reliable, independently flow-controlled
// channels (control, state, knowledge), each carried by its own libp2p
// stream (protocols /web4/rtt/{control,state,knowledge}/1.0), in the style
// of go-libp2p's p2p/protocol/ping: a Service registers the handlers on a
// host; Noise below authenticates the peer and encrypts.
//
// # Entry point
//
// The SPEC sketches a package-level rtt.Dial(ctx, host, peer). Resume,
// "one session per peer pair" and the inbound side all need state per
// host, so the entry point is a *Service per host (NewService) with
// Dial, Listen, Session and Close; a package-level Dial would need a hidden
// global registry keyed by host.
//
// # Session
//
// The dialer opens the control stream and sends a Hello (version, its and
// the responder's peer IDs, a random 128-bit session ID in the frame
// header, max frame size, its queue limits and, per channel, its resume
// point = last sequence number delivered into its receive queue, plus the
// free room of that queue). The responder checks version and peers
// (mismatch → ErrHandshake and web4.rtt.handshake_failed on both sides),
// answers a HelloAck with its own values and an epoch, and the dialer
// attaches the state and knowledge streams with an Attach frame naming the
// session and epoch. Every link has all three streams, so OpenChannel only
// validates; a resume replaces all three together (the old streams are
// reset first, keeping within the resource manager's per-peer stream
// limits). Both ends start the link with control alone — the responder once
// its HelloAck is out, the dialer once it has read the HelloAck — and the
// other two join as the dialer opens them and their Attach frames arrive
// (frames for them wait in their queues meanwhile): a new stream costs an
// open, an accept and a protocol negotiation, and the first control
// messages (the CIP handshake) need not wait for them. Under
// Config.DeferAttach (the node's setting) a fresh session's dialer opens
// them only once told to (Transport.Attach: the node does when its CIP
// handshake is over), when something is sent on either, or after half the
// HandshakeTimeout. Streams that have not joined within HandshakeTimeout
// fail the link, and the dialer resumes.
//
// DialEarly puts a first control payload (at most MaxEarlySize) into a
// fresh session's Hello: it is control frame 1 of the session, queued like
// a Send. The responder, if it is within its MaxFrameSize, delivers it
// before its HelloAck goes out, and the HelloAck's control resume point (1)
// acknowledges it, so it costs no round trip of its own (0-RTT); the CIP
// HELLO travels this way. A payload over the responder's MaxFrameSize is
// not taken, and the dial fails with ErrFrameTooLarge, since it could not
// be sent as a frame either. A resume never carries early data: the frame
// is in the send queue and the resume points decide, as for any frame.
//
// The responder may answer the early data in its HelloAck
// (Config.AnswerEarly): the answer is the responder's control frame 1,
// queued and counted as written, so the dialer's acknowledgements free it
// and a resume that finds it unacknowledged sends it again as a frame; the
// dialer delivers it before DialEarly returns. The early data an answer
// consumed counts as delivered but never reaches Receive. The node answers
// the CIP HELLO this way, which saves the dialer waiting for the
// responder's side of the session to start before it can go on.
//
// Simultaneous dials converge deterministically: when a fresh Hello
// arrives while this side has its own dial pending (or its own session
// up), the session initiated by the smaller peer ID wins; the loser's Dial
// gets StatusConflict (reported as web4.rtt.handshake_failed naming the
// tie-break) and returns the winner's session once it is registered.
//
// # Errors
//
// Sentinels, wrapped with detail: ErrHandshake, ErrTransport,
// ErrBackpressure (a blocked Send whose ctx ended wraps ctx.Err() too),
// ErrReplay (in event data and counters: a replay never fails a call),
// ErrClosed, and ErrFrameTooLarge, which stands alone for a caller's
// oversized Send and is wrapped in ErrTransport when a peer sends one.
//
// # Framing and flow control
//
// Frames are uvarint length-prefixed: kind, channel, flags, session ID,
// seq, cumulative ack, window (frames, bytes), payload (see Frame). Data
// frames are numbered per channel from 1. Every frame carries the
// receiver's cumulative ack and the free room of its receive queue, which
// is the sender's credit: a sender never has more unacknowledged frames in
// flight than the peer's queue can hold, so the reader goroutine of a
// stream never waits for the application and a stalled Receive on one
// channel cannot delay another (no head-of-line blocking). The sender keeps
// every frame until it is acknowledged — that is what a resume re-sends —
// and its bounded send queue (queued + unacknowledged) is what Send blocks
// on and TrySend refuses (ErrBackpressure); nothing is ever dropped
// silently. Pure acks are delayed up to AckDelay to ride on data going the
// other way, and sent at once when a quarter of the window is used; the
// delay is a per-channel timer that the reader arms itself, so a received
// frame wakes no other goroutine than a waiting Receive (which is woken by
// a token passed from waiter to waiter, not a broadcast). A writer batches
// what is ready and flushes only when nothing more is.
//
// A frame whose seq was already delivered, or which carries another
// session's ID, is dropped, counted (Telemetry.ReplayDrops) and reported
// (web4.rtt.replay_rejected, data.error wraps ErrReplay). A malformed frame
// or a broken rule (gap, credit overrun, ack of unsent data) resets that
// link's streams only (web4.rtt.frame_rejected); the session resumes.
//
// # Liveness and resume
//
// Both sides ping on control every HeartbeatInterval; HeartbeatMisses
// unanswered pings, or any stream error/EOF, take the link down
// (web4.rtt.session_down). On a heartbeat death the connection is also
// closed, so the redial does not reuse a dead one. The dialer redials with
// exponential backoff and jitter (BackoffMin → BackoffMax,
// web4.rtt.reconnect_attempt) and re-runs the handshake with the same
// session ID and its resume points; each side then drops what the other
// already has and re-sends the rest in order (web4.rtt.resumed with the
// count). The responder keeps a down session for ResumeWindow; after it
// (or when the dialer gives up after the same window) the session closes
// (web4.rtt.session_closed). A new connection to the peer, whoever opened
// it, wakes the dialer out of its backoff. A resume answered "unknown
// session" means the peer restarted: the session ends and Transport.Err
// wraps ErrPeerRestarted, so the layer above can open a fresh one (the
// node's peers runtime does).
//
// # Relayed connections and migration
//
// Streams may use a limited connection (Circuit Relay v2,
// network.WithAllowLimitedConn), so a session does not wait for hole
// punching. The control stream takes the swarm's best connection (direct
// before relayed) and the attach streams the same one. A relay resets the
// circuit at its data or duration limit: a link loss, resumed as usual.
// Since a reset loses what the receiver had not read yet, a link over a
// connection with a relay data limit D keeps at most max(D/16, 512) bytes
// unacknowledged per channel (relayInflight) and acknowledges at a
// quarter of that, so each relayed connection carries most of its budget
// before the cut. When a direct connection to the peer comes up (or is up
// when a relayed link starts), the dialer — only it, so the ends never
// race — ends the relayed link and resumes at once onto the direct one
// (migrate); both ends report web4.rtt.migrated. session_up and resumed
// carry relayed; Telemetry.Relayed tells the live link's kind.
//
// # Send fast path and buffers
//
// Send copies the payload into a buffer from go-buffer-pool's global pool
// (which libp2p's Noise and yamux draw from too), with headroom for the
// frame header. If the channel's writer is idle, Send then writes and
// flushes the frame itself (saving a goroutine hand-off per message); so
// Send may wait on the network like a bare stream Write would. TrySend
// never writes itself. A pooled buffer is reused only after the peer
// acknowledged the frame and its writer recorded (under the channel lock)
// that it finished writing it — a frame of 4 KiB or more as soon as its
// Write returns, smaller ones once per batch, so a large frame's early ack
// does not send its buffer to the GC; before a resume rewinds, the link
// monitor waits until no fast-path writer is still on the old link.
//
// On the receiving side a stream's reader buffers only headers and small
// frames (4 KiB): a larger payload is read from the stream straight into a
// buffer of its own taken from the same pool, so it is copied once, and
// Receive hands that buffer to the caller for good (it is garbage
// collected like any slice). Taking it from the pool, which Noise and yamux
// feed, rather than from make keeps large receives cheap even though the
// buffer does not go back.
//
// A frame reaches Receive through the stream's reader goroutine: that is
// what keeps one channel's unread frames from holding up another's. A
// waiting Receive does not read the stream itself instead: it would need
// read deadlines to honour its context, and a yamux read interrupted by a
// deadline can lose a flow-control window update.
//
// # Goroutines and locks
//
// Per live link: one reader and one writer per stream and a monitor
// (heartbeat, then cleanup); per down session: one reconnect or expiry
// goroutine. All are tracked by the Service; Close waits for them. The
// delayed-ack timers (time.AfterFunc) only poke a writer when they fire
// and are stopped when the session closes.
//
// Lock order (acquire left to right, never the reverse):
//
//	Service.mu → Transport.mu → chanState.mu
//	link.wmu[i] → chanState.mu        (writer and Send fast path)
//
// Service.wgMu and Transport.rttMu are leaves. link.wmu[i] is never taken
// while holding Transport.mu or chanState.mu. Stream I/O happens only
// under link.wmu[i] (writes) or no lock (reads); events are emitted with
// no lock held.
package rtt
