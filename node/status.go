package node

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/web4p2p/web4p2p/node/api"
	"github.com/web4p2p/web4p2p/trust"
)

// apiNode is the control API's node area: status, connections and the
// trust ledger, read from the host, the peers runtime and the ledger.
type apiNode struct {
	n  *Node
	rt *runtimes
}

func (a apiNode) Status() api.Status {
	n := a.n
	st := api.Status{PeerID: n.id.String(), AgentID: n.cfg.AgentID, Fingerprint: n.fp,
		UptimeSeconds: n.Uptime().Seconds(), Version: Version, Mission: n.cfg.Human.Loop.Mission,
		Capabilities: n.cfg.Capabilities}
	for _, ad := range n.Addrs() {
		st.Addrs = append(st.Addrs, ad.String())
	}
	if h := n.Host(); h != nil {
		st.Peers = len(h.Network().Peers())
	}
	pres, lri := a.rt.peers.Presence()
	st.Presence, st.LRI = pres.String(), lri
	return st
}

func (a apiNode) peer(p peer.ID) api.Peer {
	out := api.Peer{PeerID: p.String(), Trust: trust.Unknown.String()}
	if fp, err := FingerprintOf(p); err == nil {
		out.Fingerprint = fp
		out.Trust = a.rt.trust.State(fp).String()
	}
	if h := a.n.Host(); h != nil {
		out.Connected = h.Network().Connectedness(p) == network.Connected
		for _, ad := range h.Peerstore().Addrs(p) {
			out.Addrs = append(out.Addrs, ad.String())
		}
		out.Conns = a.connsOf(p)
	}
	if tm, ok := a.rt.peers.Telemetry(p); ok {
		out.Session = true
		out.Ready = a.rt.peers.IsReady(p)
		chans := map[string]any{}
		for _, c := range tm.Channels {
			chans[c.Channel.String()] = map[string]any{
				"bytes_in": c.BytesIn, "bytes_out": c.BytesOut, "frames_in": c.FramesIn, "frames_out": c.FramesOut,
				"send_queue": c.SendQueueFrames, "recv_queue": c.RecvQueueFrames,
			}
		}
		out.Telemetry = map[string]any{
			"up": tm.Up, "relayed": tm.Relayed, "rtt_p50_ms": float64(tm.RTTp50.Microseconds()) / 1000, "rtt_p95_ms": float64(tm.RTTp95.Microseconds()) / 1000,
			"reconnects": tm.Reconnects, "replay_drops": tm.ReplayDrops, "frames_rejected": tm.FramesRejected, "channels": chans,
		}
	}
	if info, ok := a.rt.peers.Info(p); ok {
		out.AgentID = info.AgentID
		out.Presence = info.Presence
		lri := info.LRI
		out.LRI = &lri
	}
	return out
}

func (a apiNode) Peers() []api.Peer {
	seen := map[peer.ID]bool{}
	if h := a.n.Host(); h != nil {
		for _, p := range h.Network().Peers() {
			seen[p] = true
		}
	}
	for _, p := range a.rt.peers.Sessions() {
		seen[p] = true
	}
	ids := make([]peer.ID, 0, len(seen))
	for p := range seen {
		ids = append(ids, p)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	out := make([]api.Peer, 0, len(ids))
	for _, p := range ids {
		out = append(out, a.peer(p))
	}
	return out
}

func (a apiNode) Connect(ctx context.Context, ai peer.AddrInfo) (api.Peer, error) {
	if err := a.n.Connect(ctx, ai); err != nil {
		return api.Peer{}, api.Errorf(http.StatusBadGateway, "rtt_transport", "%v", err)
	}
	if _, err := a.rt.peers.Session(ctx, ai.ID); err != nil {
		return api.Peer{}, err
	}
	return a.peer(ai.ID), nil
}

func (a apiNode) Trust() []api.TrustEntry {
	var out []api.TrustEntry
	for _, ps := range a.rt.trust.View() {
		out = append(out, a.entry(ps))
	}
	return out
}

func (a apiNode) entry(ps trust.PeerState) api.TrustEntry {
	e := api.TrustEntry{Fingerprint: ps.Peer, PeerID: ps.PeerID, State: ps.State.String(), Anchor: ps.Anchor}
	if !ps.Since.IsZero() {
		e.Since = ps.Since.UTC().Format(time.RFC3339)
	}
	if h, err := a.rt.trust.History(ps.Peer); err == nil && len(h) > 0 {
		e.LastEvent = h[len(h)-1].Event.String()
		e.LastCause = h[len(h)-1].Cause
	}
	return e
}

func (a apiNode) SetTrust(fp string, want trust.State, reason string) (api.TrustEntry, error) {
	if _, known := a.rt.trust.Peer(fp); !known && want != trust.Blacklisted && want != trust.Untrusted {
		return api.TrustEntry{}, api.ErrNotInLedger
	}
	if _, err := a.rt.trust.Set(fp, want, reason); err != nil {
		return api.TrustEntry{}, fmt.Errorf("%w: %w", api.ErrOverrideRefused, err)
	}
	ps, _ := a.rt.trust.Peer(fp)
	return a.entry(ps), nil
}

// connsOf describes the open connections to p.
func (a apiNode) connsOf(p peer.ID) []api.Conn {
	var out []api.Conn
	for _, c := range a.n.Host().Network().ConnsToPeer(p) {
		out = append(out, connInfo(c))
	}
	return out
}

// connInfo describes one connection for the API: its addresses, its
// transport and whether it runs through a relay.
func connInfo(c network.Conn) api.Conn {
	remote := c.RemoteMultiaddr()
	relayed := c.Stat().Limited
	if _, err := remote.ValueForProtocol(ma.P_CIRCUIT); err == nil {
		relayed = true
	}
	return api.Conn{Local: c.LocalMultiaddr().String(), Remote: remote.String(), Transport: transportOf(remote),
		Relayed: relayed, Direction: strings.ToLower(c.Stat().Direction.String())}
}

// transportOf names the transport of a multiaddr: quic-v1, tcp, … (the
// first one found, so the hop of a relayed address).
func transportOf(a ma.Multiaddr) string {
	for _, name := range []string{"quic-v1", "webtransport", "webrtc-direct", "tcp", "udp"} {
		for _, c := range a {
			if c.Protocol().Name == name {
				return name
			}
		}
	}
	return "unknown"
}
