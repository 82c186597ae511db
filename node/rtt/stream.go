package rtt

import (
	"context"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
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
func openStream(ctx context.Context, h host.Host, p peer.ID, proto protocol.ID) (network.Stream, error) {
	s, err := h.Network().NewStream(ctx, p)
	if err != nil {
		return nil, err
	}
	if err := s.SetProtocol(proto); err != nil { // the resource manager scopes the stream by protocol
		_ = s.Reset()
		return nil, err
	}
	return &lazyStream{Stream: s, rw: msmux.NewMSSelect(s, proto)}, nil
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
