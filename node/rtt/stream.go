package rtt

import (
	"context"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"
	msmux "github.com/multiformats/go-multistream"
)

// negotiationTimeout bounds Close's wait for a protocol negotiation that
// never completed (as basichost's stream wrapper does).
const negotiationTimeout = 10 * time.Second

// openStream opens a stream to p speaking proto, dialling if there is no
// connection, and selects the protocol lazily: the multistream-select
// proposal goes out with the first write and its answer is read with the
// first read, so the handshake costs no round trip of its own.
//
// It is host.NewStream without the wait for identify that host.NewStream
// makes on a new connection (it needs identify's protocol list to choose
// among several protocols; RTT proposes exactly one). That wait is most of
// a connect's time: without it the RTT handshake, and the CIP HELLO riding
// on it, run alongside identify instead of after it. A peer that does not
// speak proto answers "na", which fails the first read like any stream
// error, and the handshake fails with ErrHandshake.
//
// The stream may run over a limited connection (a Circuit Relay v2 hop,
// network.WithAllowLimitedConn) when there is no other: a session need not
// wait for hole punching. The swarm picks its best connection to p, and a
// direct (unlimited) one always beats a relayed one.
func openStream(ctx context.Context, h host.Host, p peer.ID, proto protocol.ID) (network.Stream, error) {
	s, err := h.Network().NewStream(allowLimited(ctx), p)
	if err != nil {
		return nil, err
	}
	return lazy(s, proto)
}

// openStreamOn is openStream on connection c: the state and knowledge
// streams of a link go over the connection its control stream took, so a
// link never straddles a relayed and a direct connection.
func openStreamOn(ctx context.Context, c network.Conn, proto protocol.ID) (network.Stream, error) {
	s, err := c.NewStream(allowLimited(ctx))
	if err != nil {
		return nil, err
	}
	return lazy(s, proto)
}

func allowLimited(ctx context.Context) context.Context {
	return network.WithAllowLimitedConn(ctx, "web4 rtt session")
}

func lazy(s network.Stream, proto protocol.ID) (network.Stream, error) {
	if err := s.SetProtocol(proto); err != nil { // the resource manager scopes the stream by protocol
		_ = s.Reset()
		return nil, err
	}
	return &lazyStream{Stream: s, rw: msmux.NewMSSelect(s, proto)}, nil
}

// relayed reports whether c runs through a relay: a limited connection (a
// Circuit Relay v2 hop with limits) or any /p2p-circuit one.
func relayed(c network.Conn) bool {
	if c == nil {
		return false
	}
	if c.Stat().Limited {
		return true
	}
	_, err := c.RemoteMultiaddr().ValueForProtocol(ma.P_CIRCUIT)
	return err == nil
}

// lazyStream is a stream whose reads and writes go through a lazy
// multistream-select client.
type lazyStream struct {
	network.Stream
	rw msmux.LazyConn
}

func (s *lazyStream) Read(b []byte) (int, error)  { return s.rw.Read(b) }
func (s *lazyStream) Write(b []byte) (int, error) { return s.rw.Write(b) }

// Close must not wait forever for a negotiation answer that never comes.
func (s *lazyStream) Close() error {
	_ = s.Stream.SetReadDeadline(time.Now().Add(negotiationTimeout))
	return s.rw.Close()
}

// CloseWrite flushes a negotiation not sent yet; an error surfaces on read.
func (s *lazyStream) CloseWrite() error {
	_ = s.rw.Flush()
	return s.Stream.CloseWrite()
}

var _ io.ReadWriteCloser = (*lazyStream)(nil)
