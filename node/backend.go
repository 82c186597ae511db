package node

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/node/api"
	"github.com/web4p2p/web4p2p/node/rtt"
	"github.com/web4p2p/web4p2p/trust"
)

// APIAddrFile is written into the data dir with the bound control API
// address, so the CLI and scripts find a node started on port 0.
const APIAddrFile = "api.addr"

// startAPI starts the control API if configured.
func (n *Node) startAPI() error {
	if n.cfg.APIAddr == "" {
		return nil
	}
	if n.cfg.DataDir == "" {
		return errors.New("control API needs a data dir for its token")
	}
	tok, err := api.LoadOrCreateToken(filepath.Join(n.cfg.DataDir, api.TokenFile))
	if err != nil {
		return err
	}
	srv, err := api.New(api.Config{Addr: n.cfg.APIAddr, AllowRemote: n.cfg.APIAllowRemote, Token: tok, Events: n.em}, backend{n})
	if err != nil {
		return err
	}
	n.knowledgeRoutes(srv)
	for _, r := range n.apiRoutes {
		srv.Handle(r.pattern, r.h)
	}
	addr, err := srv.Start()
	if err != nil {
		return err
	}
	n.apiAddr = addr
	addrFile := filepath.Join(n.cfg.DataDir, APIAddrFile)
	if err := os.WriteFile(addrFile, []byte(addr+"\n"), 0o600); err != nil {
		srv.Close()
		return err
	}
	n.closers = append(n.closers, func() error {
		err := srv.Close()
		os.Remove(addrFile)
		return err
	})
	return nil
}

type apiRoute struct {
	pattern string
	h       http.HandlerFunc
}

// APIAddr returns the bound control API address ("" if none).
func (n *Node) APIAddr() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.apiAddr
}

// backend adapts the node to api.Backend.
type backend struct{ n *Node }

func (b backend) Status() api.Status {
	n := b.n
	st := api.Status{PeerID: n.id.String(), AgentID: n.cfg.AgentID, Fingerprint: n.fp,
		UptimeSeconds: n.Uptime().Seconds(), Version: Version, Presence: "diffuse"}
	for _, a := range n.Addrs() {
		st.Addrs = append(st.Addrs, a.String())
	}
	if h := n.Host(); h != nil {
		st.Peers = len(h.Network().Peers())
	}
	st.Presence, st.LRI = n.presence()
	return st
}

func (b backend) peerInfo(p peer.ID) api.Peer {
	n := b.n
	out := api.Peer{PeerID: p.String(), Trust: trust.Unknown.String()}
	if fp, err := FingerprintOf(p); err == nil {
		out.Fingerprint = fp
		out.Trust = n.trust.State(fp).String()
	}
	if h := n.Host(); h != nil {
		out.Connected = h.Network().Connectedness(p) == network.Connected
		for _, a := range h.Peerstore().Addrs(p) {
			out.Addrs = append(out.Addrs, a.String())
		}
	}
	if ps := n.peerSession(p); ps != nil {
		out.Session = true
		tm := ps.t.Telemetry()
		chans := map[string]any{}
		for _, c := range tm.Channels {
			chans[c.Channel.String()] = map[string]any{
				"bytes_in": c.BytesIn, "bytes_out": c.BytesOut, "frames_in": c.FramesIn, "frames_out": c.FramesOut,
				"send_queue": c.SendQueueFrames, "recv_queue": c.RecvQueueFrames,
			}
		}
		out.Telemetry = map[string]any{
			"up": tm.Up, "rtt_p50_ms": float64(tm.RTTp50.Microseconds()) / 1000, "rtt_p95_ms": float64(tm.RTTp95.Microseconds()) / 1000,
			"reconnects": tm.Reconnects, "replay_drops": tm.ReplayDrops, "frames_rejected": tm.FramesRejected, "channels": chans,
		}
	}
	if info, ok := n.peerInfo(p); ok {
		out.AgentID = info.agentID
		out.Presence = info.presence
		lri := info.lri
		out.LRI = &lri
	}
	return out
}

func (b backend) Peers() []api.Peer {
	n := b.n
	seen := map[peer.ID]bool{}
	if h := n.Host(); h != nil {
		for _, p := range h.Network().Peers() {
			seen[p] = true
		}
	}
	n.sess.mu.Lock()
	for p := range n.sess.m {
		seen[p] = true
	}
	n.sess.mu.Unlock()
	ids := make([]peer.ID, 0, len(seen))
	for p := range seen {
		ids = append(ids, p)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	out := make([]api.Peer, 0, len(ids))
	for _, p := range ids {
		out = append(out, b.peerInfo(p))
	}
	return out
}

func (b backend) Connect(ctx context.Context, addr string) (api.Peer, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	p, err := b.n.ConnectAddr(ctx, addr)
	if err != nil {
		if errors.Is(err, ErrConfig) {
			return api.Peer{}, api.Errorf(http.StatusBadRequest, "bad_multiaddr", "%v", err)
		}
		return api.Peer{}, api.Errorf(http.StatusBadGateway, "rtt_transport", "%v", err)
	}
	if _, err := b.n.Session(ctx, p); err != nil {
		return api.Peer{}, mapErr(err)
	}
	return b.peerInfo(p), nil
}

func (b backend) Trust() []api.TrustEntry {
	var out []api.TrustEntry
	for _, ps := range b.n.trust.View() {
		e := api.TrustEntry{Fingerprint: ps.Peer, PeerID: ps.PeerID, State: ps.State.String()}
		if !ps.Since.IsZero() {
			e.Since = ps.Since.UTC().Format(time.RFC3339)
		}
		if h, err := b.n.trust.History(ps.Peer); err == nil && len(h) > 0 {
			e.LastEvent = h[len(h)-1].Event.String()
			e.LastCause = h[len(h)-1].Cause
		}
		out = append(out, e)
	}
	return out
}

// resolvePeer accepts a PeerID or a fingerprint.
func (b backend) resolveFingerprint(s string) (string, error) {
	if trust.CheckFingerprint(s) == nil {
		return s, nil
	}
	p, err := peer.Decode(s)
	if err != nil {
		return "", api.Errorf(http.StatusBadRequest, "bad_peer", "%q is neither a PeerID nor a 64-hex fingerprint", s)
	}
	return FingerprintOf(p)
}

func (b backend) SetTrust(ctx context.Context, who, state, reason string) (api.TrustEntry, error) {
	fp, err := b.resolveFingerprint(who)
	if err != nil {
		return api.TrustEntry{}, err
	}
	want, err := trust.ParseState(state)
	if err != nil {
		return api.TrustEntry{}, api.Errorf(http.StatusBadRequest, "bad_request", "field \"state\": %v", err)
	}
	if _, known := b.n.trust.Peer(fp); !known {
		return api.TrustEntry{}, api.Errorf(http.StatusNotFound, "unknown_peer", "%s is not in the trust ledger", who)
	}
	// The operator's only manual transition in the SPEC §5 table is
	// blacklisted → probing; anything else must be earned or proven.
	if want != trust.Probing {
		return api.TrustEntry{}, api.Errorf(http.StatusConflict, "override_refused",
			"only a manual override blacklisted → probing is allowed (SPEC §5); %s must be earned or proven", want)
	}
	if _, err := b.n.trust.Override(fp, reason); err != nil {
		return api.TrustEntry{}, api.Errorf(http.StatusConflict, "override_refused", "%v", err)
	}
	for _, e := range b.Trust() {
		if e.Fingerprint == fp {
			return e, nil
		}
	}
	return api.TrustEntry{}, api.Errorf(http.StatusInternalServerError, "internal", "override applied but %s vanished from the ledger", fp)
}

func (b backend) parse(who, ch string) (peer.ID, rtt.Channel, error) {
	p, err := peer.Decode(who)
	if err != nil {
		return "", 0, api.Errorf(http.StatusBadRequest, "bad_peer", "%q is not a PeerID: %v", who, err)
	}
	if ch == "" {
		return p, 0, nil
	}
	c, err := rtt.ParseChannel(ch)
	if err != nil {
		return "", 0, api.Errorf(http.StatusBadRequest, "bad_channel", "%v", err)
	}
	return p, c, nil
}

func (b backend) OpenChannel(ctx context.Context, who, ch string) error {
	p, c, err := b.parse(who, ch)
	if err != nil {
		return err
	}
	return mapErr(b.n.OpenChannel(ctx, p, c))
}

func (b backend) Send(ctx context.Context, who, ch string, data []byte) error {
	p, c, err := b.parse(who, ch)
	if err != nil {
		return err
	}
	return mapErr(b.n.SendApp(ctx, p, c, data))
}

func (b backend) Receive(ctx context.Context, who, ch string) ([]byte, error) {
	p, c, err := b.parse(who, ch)
	if err != nil {
		return nil, err
	}
	data, err := b.n.ReceiveApp(ctx, p, c)
	if err != nil && ctx.Err() != nil {
		return nil, err // the server turns a deadline into "timeout"
	}
	return data, mapErr(err)
}

func (b backend) CloseChannel(ctx context.Context, who, ch string) error {
	p, c, err := b.parse(who, ch)
	if err != nil {
		return err
	}
	return mapErr(b.n.CloseApp(p, c))
}

func (b backend) Shutdown(ctx context.Context, who string) error {
	p, _, err := b.parse(who, "")
	if err != nil {
		return err
	}
	return mapErr(b.n.ShutdownSession(ctx, p))
}

func (b backend) Events() *events.Broker       { return b.n.broker }
func (b backend) Metrics() prometheus.Gatherer { return b.n.reg }

// mapErr turns node and RTT errors into API errors with stable kinds (the
// Python client maps them to exceptions).
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var ae *api.Error
	switch {
	case errors.As(err, &ae):
		return err
	case errors.Is(err, ErrUnknownPeer):
		return api.Errorf(http.StatusNotFound, "unknown_peer", "%v", err)
	case errors.Is(err, ErrChannelClosed), errors.Is(err, rtt.ErrClosed):
		return api.Errorf(http.StatusConflict, "channel_closed", "%v", err)
	case errors.Is(err, rtt.ErrBackpressure):
		return api.Errorf(http.StatusTooManyRequests, "rtt_backpressure", "%v", err)
	case errors.Is(err, rtt.ErrHandshake):
		return api.Errorf(http.StatusBadGateway, "rtt_handshake", "%v", err)
	case errors.Is(err, rtt.ErrReplay):
		return api.Errorf(http.StatusConflict, "rtt_replay", "%v", err)
	case errors.Is(err, rtt.ErrFrameTooLarge):
		return api.Errorf(http.StatusRequestEntityTooLarge, "frame_too_large", "%v", err)
	case errors.Is(err, rtt.ErrTransport):
		return api.Errorf(http.StatusBadGateway, "rtt_transport", "%v", err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return api.Errorf(http.StatusGatewayTimeout, "timeout", "%v", err)
	}
	return err
}
