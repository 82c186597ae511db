package peers

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/web4p2p/web4p2p/node/rtt"
	"github.com/web4p2p/web4p2p/protocols/cip"
	"github.com/web4p2p/web4p2p/protocols/router"
	"github.com/web4p2p/web4p2p/trust"
)

// cipConn runs the handshake over the session's control channel, which
// the control dispatcher reads itself until the handshake is over.
type cipConn struct {
	r *Runtime
	s *session
}

func (c *cipConn) Send(ctx context.Context, msg []byte) error {
	return c.s.send(ctx, rtt.Control, msg)
}

func (c *cipConn) Receive(ctx context.Context) ([]byte, error) {
	return c.r.nextEnvelope(ctx, c.s, rtt.Control)
}

// cipConfig is the handshake config for the peer whose key is pub, as far
// as it does not depend on the session (see runControl).
func (r *Runtime) cipConfig(pub ed25519.PublicKey) cip.Config {
	return cip.Config{
		Builder: r.deps.Sign(), RemoteKey: pub, Replay: r.deps.Replay,
		Policy: r.deps.Router.Policy().Envelope, Events: r.deps.Events,
		Features: Features,
	}
}

// answerHello is the RTT responder's Config.AnswerEarly: a fresh session's
// early data that is the peer's CIP HELLO is answered at once, our HELLO
// riding back in the HelloAck (SPEC §4.2) — the peer need not wait for our
// side of the session to start before it can go on. Anything else (an
// application payload, a HELLO that fails a check) is left to the session,
// whose handshake then meets it the ordinary way.
func (r *Runtime) answerHello(t *rtt.Transport, early []byte) ([]byte, any) {
	if len(early) < 2 || early[0] != TagEnvelope {
		return nil, nil
	}
	pub, ok := edKey(t.RemotePeer())
	if !ok {
		return nil, nil
	}
	a, reply, err := cip.AnswerHello(r.cipConfig(pub), early[1:])
	if err != nil {
		return nil, nil
	}
	return EnvelopeFrame(reply), a
}

// trustGate applies the handshake verdict (SPEC §4.2 step 4) to the
// connection's peer — the authenticated key, never a name from an envelope.
func (r *Runtime) trustGate(s *session) func(context.Context, cip.Identity, cip.Outcome) error {
	return func(ctx context.Context, id cip.Identity, o cip.Outcome) error {
		cause := "handshake:" + fmt.Sprintf("%x", s.t.SessionID())
		ev := trust.ValidHandshake
		switch o {
		case cip.OutcomeBadSignature:
			ev = trust.BadSignature
		case cip.OutcomeFingerprintMismatch:
			ev = trust.FingerprintMismatch
		}
		// The verdict and the PeerID binding are one ledger write. It is
		// in effect at once; an accepted handshake finishes its messages
		// first and runControl commits the write before the session is
		// ready (s.commit). A refusal commits it here.
		_, commit, err := r.deps.Trust.Stage(s.fp, s.t.RemotePeer().String(), trust.Input{Event: ev, Cause: cause})
		if err != nil {
			return err
		}
		switch st := r.deps.Trust.State(s.fp); st {
		case trust.Probing, trust.Trusted:
			s.commit = commit
			return nil
		case trust.Untrusted:
			_ = commit()
			return fmt.Errorf("peer is untrusted and its cooldown is not over")
		default:
			_ = commit()
			return fmt.Errorf("peer is %s", st)
		}
	}
}

// runControl leads (dialer) or answers the CIP handshake on the session,
// then starts the state and knowledge dispatchers and dispatches the
// control channel itself until the session ends.
func (r *Runtime) runControl(ctx context.Context, s *session) {
	conn := &cipConn{r: r, s: s}
	cfg := r.cipConfig(s.pub)
	cfg.TrustGate, cfg.Overloaded, cfg.ViewOf = r.trustGate(s), r.Overloaded, r.ViewOf
	cfg.StepTimeout = r.cfg.HandshakeTimeout
	var res *cip.Result
	var err error
	if s.initiator {
		// Our HELLO went out with the RTT handshake if this session
		// came from Session's DialEarly (otherwise Initiate sends it).
		if e := s.t.Early(); len(e) > 1 && e[0] == TagEnvelope {
			cfg.SentHello = e[1:]
		}
		res, err = cip.Initiate(ctx, conn, cfg)
	} else {
		// The peer's HELLO was answered in the RTT HelloAck if answerHello
		// took it (otherwise Respond reads and answers it).
		cfg.Answered, _ = s.t.EarlyState().(*cip.Answered)
		res, err = cip.Respond(ctx, conn, cfg)
	}
	// The verdict's ledger write goes to disk now that the handshake's
	// messages are out, not while they are in flight: a sync holds a
	// runtime P for its whole duration, which on a small machine starves
	// the very goroutines moving the handshake. A failed handshake commits
	// its verdict too (it took effect).
	if err != nil {
		if s.commit != nil {
			_ = s.commit()
		}
		if ctx.Err() != nil {
			return
		}
		r.handshakeFailed(s, res, err)
		return
	}
	s.hs = res
	p := s.t.RemotePeer()
	r.updateInfo(p, func(in *Info) {
		in.AgentID, in.Fingerprint, in.Capabilities = res.Peer.AgentID, res.Peer.Fingerprint, res.Peer.Capabilities
		if st := res.PeerState; st != nil {
			in.Presence, in.LRI, in.Intent = st.Presence.String(), st.LRI, st.Intent
		}
	})
	// The session is ready for this node's own side at once (the verdict
	// is in effect in memory; the application may send), but no peer
	// message is dispatched before the verdict is on disk.
	close(s.ready)
	// The handshake is over: the dialer's state and knowledge streams may
	// attach (rtt.Config.DeferAttach; a no-op on the responder's side).
	s.t.Attach()
	// Let whoever was waiting for readiness run before the fsync below:
	// close made it this P's next goroutine, and a goroutine in a syscall
	// keeps its P until sysmon takes it back, which on an otherwise quiet
	// process can be milliseconds — the waiter would sit behind the disk.
	runtime.Gosched()
	if s.commit != nil {
		if cerr := s.commit(); cerr != nil {
			r.handshakeFailed(s, res, fmt.Errorf("%w: recording the trust verdict: %w", cip.ErrHandshake, cerr))
			return
		}
	}
	for _, fn := range r.onReady {
		fn(p, s.initiator)
	}
	for _, ch := range []rtt.Channel{rtt.State, rtt.Knowledge} {
		r.deps.Group.Go(func(ctx context.Context) { r.dispatchLoop(ctx, s, ch) })
	}
	r.dispatchLoop(ctx, s, rtt.Control)
}

// handshakeFailed ends a session whose CIP handshake failed: a peer whose
// verdict was not OK (or that the trust gate refused) is disconnected; the
// trust consequence was applied by the gate.
func (r *Runtime) handshakeFailed(s *session, res *cip.Result, err error) {
	p := s.t.RemotePeer()
	reason := err.Error()
	if res != nil && res.Reason != "" {
		reason = res.Reason
	}
	st := r.deps.Trust.State(s.fp)
	r.deps.Events.Emit("web4.node.handshake_rejected", p.String(), map[string]any{"reason": reason, "trust": st.String()})
	// The session is over either way: a failed CIP handshake leaves no
	// authenticated agent on the other side.
	ctx, cancel := context.WithTimeout(r.deps.Group.Context(), time.Second)
	_ = s.t.Shutdown(ctx)
	cancel()
	if st == trust.Blacklisted || st == trust.Untrusted || errors.Is(err, cip.ErrHandshake) {
		_ = r.deps.Host.Network().ClosePeer(p)
	}
}

// errHandshakeDone: a HELLO or VERIFY after the session's handshake.
var errHandshakeDone = errors.New("CIP handshake already completed on this session")

// handleLateHandshake is the Handshake route after the handshake: the
// handshake itself reads its messages before the dispatchers start, so a
// HELLO or VERIFY that reaches the router is a peer starting over on a
// session that is already authenticated. It is refused (an error event),
// not charged: a peer that lost its state may simply be retrying.
func (r *Runtime) handleLateHandshake(_ context.Context, m *router.Message) error {
	return fmt.Errorf("%w: %s", errHandshakeDone, m.Env.Type)
}
