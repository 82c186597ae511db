package rtt

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/web4p2p/web4p2p/internal/events"
)

// Every bound of the package, in one place.
const (
	// Version is the RTT session protocol version sent in the handshake.
	Version = 1

	// MaxHeaderSize bounds the encoded frame header (fixed part + four
	// uvarints). A frame's body is at most MaxHeaderSize + payload limit.
	MaxHeaderSize = fixedHeaderSize + 4*10

	// maxHelloSize bounds a handshake payload: two peer IDs of at most
	// maxPeerIDLen bytes plus a few dozen uvarints (1 KiB), and a dialer's
	// early data (see MaxEarlySize).
	maxHelloSize = 1024 + MaxEarlySize + binary.MaxVarintLen64
	maxPeerIDLen = 128

	// MaxEarlySize bounds the early data a DialEarly may carry in its
	// Hello (one control payload, sent 0-RTT).
	MaxEarlySize = 16 << 10

	// maxWriteBatch bounds how many frames a channel writer takes from its
	// queue before writing them, so a flush happens at least that often.
	maxWriteBatch = 64

	// writeBufferSize / readBufferSize: per stream buffering, for headers
	// and small frames only. A frame larger than the write buffer goes to
	// the stream in one Write of its own; a payload larger than the read
	// buffer is read from the stream straight into its own buffer. Bigger
	// buffers would only copy big frames twice and cost every link their
	// zeroing when it starts.
	writeBufferSize = 16 << 10
	readBufferSize  = 4 << 10

	// headroom is reserved in front of every outgoing payload, so the
	// writer can put the length prefix and header right before it and hand
	// the frame to the stream in one Write. Frame buffers come from
	// go-buffer-pool, in power-of-two sizes: a send queue of SendQueueBytes
	// payload bytes may hold up to twice that in buffers.
	headroom = MaxHeaderSize + binary.MaxVarintLen64

	// rttSamples is how many heartbeat round-trip samples feed p50/p95.
	rttSamples = 128

	// listenBacklog bounds inbound sessions waiting for Listen; older
	// entries that are already closed are pruned first.
	listenBacklog = 256
)

// Config configures a Service. Start from DefaultConfig.
type Config struct {
	// HandshakeTimeout bounds a session handshake (SPEC default 10 s).
	HandshakeTimeout time.Duration
	// HeartbeatInterval is the ping period on control (SPEC default 5 s).
	HeartbeatInterval time.Duration
	// HeartbeatMisses unanswered pings declare the session down (default 3).
	HeartbeatMisses int
	// MaxFrameSize is the largest payload of one frame (default 1 MiB).
	// The negotiated limit is the smaller of both sides'.
	MaxFrameSize int
	// SendQueueFrames / SendQueueBytes bound each channel's send queue,
	// which holds queued and sent-but-unacknowledged frames.
	SendQueueFrames int
	SendQueueBytes  int
	// RecvQueueFrames / RecvQueueBytes bound each channel's receive queue;
	// they are the credit the peer's sender may use.
	RecvQueueFrames int
	RecvQueueBytes  int
	// BackoffMin / BackoffMax bound the dialer's reconnect backoff
	// (exponential, with jitter in [d/2, d]).
	BackoffMin time.Duration
	BackoffMax time.Duration
	// ResumeWindow is how long a session that lost its connection is kept
	// for a resume; after it the session is closed.
	ResumeWindow time.Duration
	// AckDelay is the longest a receiver holds back a pure acknowledgement
	// hoping to piggyback it on data going the other way.
	AckDelay time.Duration

	// OnSession, if set, is called with every new inbound session, on the
	// libp2p stream-handler goroutine; it must not block.
	OnSession func(*Transport)
	// AnswerEarly, if set, is offered a fresh inbound session's early data
	// (the dialer's Hello.Early) on the handshake goroutine, before the
	// HelloAck is written. A non-nil reply consumes the early data (it is
	// counted as delivered control frame 1 but not queued for Receive) and
	// rides in the HelloAck as this side's control frame 1, which the
	// dialer delivers before anything else; state is kept for
	// Transport.EarlyState. A nil reply leaves the early data to Receive,
	// as without the hook. It must not block: it delays the HelloAck.
	AnswerEarly func(t *Transport, early []byte) (reply []byte, state any)
	// DeferAttach makes a fresh session's dialer hold its state and
	// knowledge streams back until Transport.Attach is called, something
	// is sent on either, or half the HandshakeTimeout has passed (the
	// responder fails a link whose streams have not joined within
	// HandshakeTimeout). The node sets it and attaches once the CIP
	// handshake, which runs on control alone, is over, so that the
	// handshake's messages do not compete with two stream opens on either
	// side. Frames the responder sends on those channels meanwhile wait in
	// its queue. A resume attaches at once.
	DeferAttach bool
	// Events receives the web4.rtt.* events; nil discards.
	Events *events.Emitter
	// Registerer, if set, gets the web4_rtt_* collectors.
	Registerer prometheus.Registerer
	// Rand is the source of session IDs and backoff jitter (crypto/rand).
	Rand io.Reader
	// Now is the clock for RTT samples and event times (time.Now).
	Now func() time.Time
}

// DefaultConfig returns the SPEC §2 defaults.
func DefaultConfig() Config {
	return Config{
		HandshakeTimeout:  10 * time.Second,
		HeartbeatInterval: 5 * time.Second,
		HeartbeatMisses:   3,
		MaxFrameSize:      1 << 20,
		SendQueueFrames:   1024,
		SendQueueBytes:    8 << 20,
		RecvQueueFrames:   1024,
		RecvQueueBytes:    8 << 20,
		BackoffMin:        100 * time.Millisecond,
		BackoffMax:        30 * time.Second,
		ResumeWindow:      2 * time.Minute,
		AckDelay:          5 * time.Millisecond,
		Rand:              rand.Reader,
		Now:               time.Now,
	}
}

// validate fills nil hooks and rejects nonsensical limits.
func (c *Config) validate() error {
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	pos := []struct {
		name string
		v    int64
	}{
		{"HandshakeTimeout", int64(c.HandshakeTimeout)},
		{"HeartbeatInterval", int64(c.HeartbeatInterval)},
		{"HeartbeatMisses", int64(c.HeartbeatMisses)},
		{"MaxFrameSize", int64(c.MaxFrameSize)},
		{"SendQueueFrames", int64(c.SendQueueFrames)},
		{"SendQueueBytes", int64(c.SendQueueBytes)},
		{"RecvQueueFrames", int64(c.RecvQueueFrames)},
		{"RecvQueueBytes", int64(c.RecvQueueBytes)},
		{"BackoffMin", int64(c.BackoffMin)},
		{"BackoffMax", int64(c.BackoffMax)},
		{"ResumeWindow", int64(c.ResumeWindow)},
		{"AckDelay", int64(c.AckDelay)},
	}
	for _, p := range pos {
		if p.v <= 0 {
			return fmt.Errorf("rtt config: %s must be > 0 (got %d)", p.name, p.v)
		}
	}
	if c.MaxFrameSize > 64<<20 {
		return fmt.Errorf("rtt config: MaxFrameSize %d over the 64 MiB ceiling", c.MaxFrameSize)
	}
	if c.SendQueueBytes < c.MaxFrameSize || c.RecvQueueBytes < c.MaxFrameSize {
		return fmt.Errorf("rtt config: SendQueueBytes and RecvQueueBytes must hold one MaxFrameSize frame (%d)", c.MaxFrameSize)
	}
	if c.BackoffMax < c.BackoffMin {
		return fmt.Errorf("rtt config: BackoffMax %v < BackoffMin %v", c.BackoffMax, c.BackoffMin)
	}
	return nil
}
