package card

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/protocols/agentcard"
)

// ProtocolID is the card exchange: the opener sends nothing (it closes its
// write side), the responder writes its signed card as JSON, at most
// agentcard.MaxCardBytes, and closes the stream.
const ProtocolID = "/web4/card/1.0"

// A card fetched from a peer is refused — never shown, reported as a
// web4.error event of area "card" whose kind is the reason — for one of
// these; each wraps ErrRefused.
var (
	ErrRefused = errors.New("card refused")
	// ErrTooLarge: the stream carried more than agentcard.MaxCardBytes.
	ErrTooLarge = fmt.Errorf("%w: too_large", ErrRefused)
	// ErrInvalidCard: not a card (agentcard.Decode refused it).
	ErrInvalidCard = fmt.Errorf("%w: invalid", ErrRefused)
	// ErrUnsigned: a card without a signature.
	ErrUnsigned = fmt.Errorf("%w: unsigned", ErrRefused)
	// ErrBadSignature: a signature that does not verify (a tampered card).
	ErrBadSignature = fmt.Errorf("%w: bad_signature", ErrRefused)
	// ErrForeignSigner: a card whose signatures verify but none is by the
	// peer it came from (another agent's card passed off as its own).
	ErrForeignSigner = fmt.Errorf("%w: foreign_signer", ErrRefused)
	// ErrNotListed: a provider of a capability whose card does not list it.
	ErrNotListed = fmt.Errorf("%w: not_listed", ErrRefused)
)

var refusals = []struct {
	err    error
	reason string
}{
	{ErrTooLarge, "too_large"}, {ErrInvalidCard, "invalid"}, {ErrUnsigned, "unsigned"},
	{ErrBadSignature, "bad_signature"}, {ErrForeignSigner, "foreign_signer"}, {ErrNotListed, "not_listed"},
}

// Reason is the short reason of a refusal ("bad_signature", …), "" if err
// is not one.
func Reason(err error) string {
	for _, r := range refusals {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return ""
}

// ReadCard reads one card from r, at most agentcard.MaxCardBytes; more is
// ErrTooLarge, nothing is ErrInvalidCard. It does not verify.
func ReadCard(r io.Reader) ([]byte, error) {
	raw, err := io.ReadAll(io.LimitReader(r, agentcard.MaxCardBytes+1))
	switch {
	case err != nil:
		return nil, err
	case len(raw) > agentcard.MaxCardBytes:
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, agentcard.MaxCardBytes)
	case len(raw) == 0:
		return nil, fmt.Errorf("%w: empty", ErrInvalidCard)
	}
	return raw, nil
}

// Check verifies raw as the card of from: decoded strictly, signed, every
// signature valid (agentcard.VerifyFrom), and one of them by from. The
// error says which of the refusals it is.
func Check(raw []byte, from peer.ID) (agentcard.Verified, error) {
	c, err := agentcard.Decode(raw)
	if err != nil {
		return agentcard.Verified{}, fmt.Errorf("%w: %w", ErrInvalidCard, err)
	}
	if len(c.Signatures) == 0 {
		return agentcard.Verified{}, fmt.Errorf("%w: the card of %s carries no signature", ErrUnsigned, from)
	}
	v, err := agentcard.VerifyFrom(raw, from)
	if err == nil {
		return v, nil
	}
	if other, verr := agentcard.Verify(raw); verr == nil {
		return agentcard.Verified{}, fmt.Errorf("%w: signed by %v, not by %s who sent it", ErrForeignSigner, other.Signers, from)
	}
	return agentcard.Verified{}, fmt.Errorf("%w: %w", ErrBadSignature, err)
}

// Service serves this node's card on ProtocolID and fetches, verifies and
// finds others' cards.
type Service struct {
	h    host.Host
	pub  *Publisher
	deps Deps
	em   *events.Emitter
	once sync.Once
}

// NewService returns the card service of h; deps (nil: no Find) and em
// (may be nil) as documented on Deps and Find.
func NewService(h host.Host, pub *Publisher, deps Deps, em *events.Emitter) *Service {
	return &Service{h: h, pub: pub, deps: deps, em: em}
}

// Open registers the stream handler.
func (s *Service) Open() { s.h.SetStreamHandler(ProtocolID, s.serve) }

// Close removes the stream handler; idempotent. Streams being served end
// by their deadline (or with the host).
func (s *Service) Close() error {
	s.once.Do(func() { s.h.RemoveStreamHandler(ProtocolID) })
	return nil
}

// Signed returns the node's current signed card (see Publisher.Signed).
func (s *Service) Signed() ([]byte, error) {
	raw, _, err := s.pub.Signed()
	return raw, err
}

// Publisher is the node's card publisher.
func (s *Service) Publisher() *Publisher { return s.pub }

func (s *Service) serve(st network.Stream) {
	_ = st.SetDeadline(time.Now().Add(StreamTimeout))
	raw, _, err := s.pub.Signed()
	if err != nil {
		s.em.Error("card", "sign_failed", s.pub.ID().String(), err, nil)
		_ = st.Reset()
		return
	}
	if _, err := st.Write(raw); err != nil {
		_ = st.Reset()
		return
	}
	_ = st.Close()
}

// Fetch asks p for its card over ProtocolID (at most StreamTimeout, less
// if ctx says so) and verifies it with Check. A refused card is reported
// (web4.error, area "card", kind the Reason) and its error returned; its
// content is not.
func (s *Service) Fetch(ctx context.Context, p peer.ID) (agentcard.Verified, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, StreamTimeout)
	defer cancel()
	// A card is a few KiB, well within a Circuit Relay v2 connection's
	// limits, so it may be fetched from a NATed agent before (or without)
	// a hole-punched direct connection.
	st, err := s.h.NewStream(network.WithAllowLimitedConn(ctx, "card"), p, ProtocolID)
	if err != nil {
		return agentcard.Verified{}, nil, fmt.Errorf("card: open %s to %s: %w", ProtocolID, p, err)
	}
	defer st.Close()
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = st.SetDeadline(dl)
	}
	_ = st.CloseWrite()
	raw, err := ReadCard(st)
	if err != nil && !errors.Is(err, ErrRefused) {
		_ = st.Reset()
		return agentcard.Verified{}, nil, fmt.Errorf("card: read from %s: %w", p, err)
	}
	var v agentcard.Verified
	if err == nil {
		v, err = Check(raw, p)
	}
	if err != nil {
		_ = st.Reset()
		s.em.Error("card", Reason(err), p.String(), err, map[string]any{"protocol": ProtocolID})
		return agentcard.Verified{}, nil, err
	}
	return v, raw, nil
}
