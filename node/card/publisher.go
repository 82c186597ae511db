package card

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/protocols/agentcard"
)

// BindingLibp2p is the protocolBinding of the card's libp2p interfaces: a
// custom A2A binding (A2A allows any URI) meaning "open libp2p streams to
// this multiaddr; /web4/card/1.0 returns this card, /web4/a2a/1.0 serves
// the A2A JSON-RPC (node/a2a), RTT and CIP speak the web4p2p protocols".
const BindingLibp2p = "https://web4p2p.dev/bindings/libp2p/1.0"

// ExtensionWeb4 is the URI of the card's capabilities.extensions entry
// that carries what A2A has no field for: the PeerID, the protocol
// capabilities (rtt/1.0, cip/1.0, …), every capability and the addresses.
const ExtensionWeb4 = "https://web4p2p.dev/extensions/web4/1.0"

// Info is what the card says about the node.
type Info struct {
	// AgentID is the card's name.
	AgentID string
	// Mission is the agent's mission topics, the card's description.
	Mission []string
	// Version is the node's version, the card's version.
	Version string
	// Capabilities are the operator-declared capabilities, one skill each
	// (checked with CheckCapability).
	Capabilities []string
	// Protocols are the protocol capabilities the node speaks (rtt/1.0,
	// cip/1.0, …), listed in the web4 extension.
	Protocols []string
}

// Addition is what another part of the node adds to the card: the A2A
// JSON-RPC gateway adds its interface and its bearer scheme, for example.
// Interfaces are listed before the libp2p ones (A2A: the first is the
// preferred one).
type Addition struct {
	Interfaces           []agentcard.Interface
	SecuritySchemes      map[string]agentcard.SecurityScheme
	SecurityRequirements []agentcard.SecurityRequirement
	Skills               []agentcard.Skill
	// Edit, if set, is applied last, before signing (e.g. to set
	// capabilities.streaming); it must not keep the card.
	Edit func(*agentcard.Card)
}

// Publisher builds and signs the node's card. The signed card is cached
// and re-signed when the node's addresses change (checked on every
// Signed, so a card served is never older than the addresses) or when an
// Addition arrives. Safe for concurrent use.
type Publisher struct {
	key   crypto.PrivKey
	id    peer.ID
	info  Info
	addrs func() []ma.Multiaddr
	em    *events.Emitter

	mu        sync.Mutex
	additions []Addition
	dirty     bool     // an Addition since the last signing
	signedFor []string // the addresses the cached card lists
	raw       []byte   // the cached signed card as JSON
	card      agentcard.Card
}

// NewPublisher returns the publisher of key's card; addrs returns the
// node's current listen addresses (without /p2p; the host's Addrs). em
// (may be nil) gets web4.card.signed each time the card is (re-)signed.
func NewPublisher(key crypto.PrivKey, info Info, addrs func() []ma.Multiaddr, em *events.Emitter) (*Publisher, error) {
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("card: %w", err)
	}
	if len(info.Capabilities) > MaxCapabilities {
		return nil, fmt.Errorf("card: capabilities: %d, at most %d", len(info.Capabilities), MaxCapabilities)
	}
	for i, c := range info.Capabilities {
		if err := CheckCapability(c); err != nil {
			return nil, fmt.Errorf("card: capabilities[%d]: %w", i, err)
		}
	}
	if addrs == nil {
		addrs = func() []ma.Multiaddr { return nil }
	}
	info.Mission = slices.Clone(info.Mission)
	info.Capabilities = slices.Clone(info.Capabilities)
	info.Protocols = slices.Clone(info.Protocols)
	return &Publisher{key: key, id: id, info: info, addrs: addrs, em: em, dirty: true}, nil
}

// ID is the PeerID that signs the card.
func (p *Publisher) ID() peer.ID { return p.id }

// Add adds a to the card; the next Signed re-signs it.
func (p *Publisher) Add(a Addition) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.additions = append(p.additions, a)
	p.dirty = true
}

// Signed returns the current signed card and its JSON (the bytes served,
// which Verify accepts), re-signing it first if the addresses changed.
func (p *Publisher) Signed() ([]byte, agentcard.Card, error) {
	addrs := p.p2pAddrs()
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.dirty && slices.Equal(addrs, p.signedFor) {
		return p.raw, p.card, nil
	}
	c, err := agentcard.Sign(p.build(addrs), p.key)
	if err != nil {
		return nil, agentcard.Card{}, fmt.Errorf("card: sign: %w", err)
	}
	raw, err := json.Marshal(c)
	if err != nil {
		return nil, agentcard.Card{}, fmt.Errorf("card: %w", err)
	}
	if len(raw) > agentcard.MaxCardBytes {
		return nil, agentcard.Card{}, fmt.Errorf("card: %d bytes signed, more than the %d a verifier accepts", len(raw), agentcard.MaxCardBytes)
	}
	first := p.raw == nil
	p.raw, p.card, p.signedFor, p.dirty = raw, c, addrs, false
	p.em.Emit("web4.card.signed", p.id.String(), map[string]any{
		"addrs": slices.Clone(addrs), "skills": len(c.Skills), "interfaces": len(c.SupportedInterfaces), "first": first})
	return raw, c, nil
}

// p2pAddrs are the addresses the card lists, each ending in /p2p/<id>,
// at most MaxCardAddrs, in the host's order.
func (p *Publisher) p2pAddrs() []string {
	suffix := "/p2p/" + p.id.String()
	var out []string
	for _, a := range p.addrs() {
		if len(out) == MaxCardAddrs {
			break
		}
		s := a.String()
		if !strings.HasSuffix(s, suffix) {
			s += suffix
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// build is the unsigned card for addrs. Called with mu held.
func (p *Publisher) build(addrs []string) agentcard.Card {
	desc := "web4p2p agent " + p.info.AgentID
	if len(p.info.Mission) > 0 {
		desc += "; mission: " + strings.Join(p.info.Mission, ", ")
	}
	version := p.info.Version
	if version == "" {
		version = "unknown"
	}
	c := agentcard.Card{
		Name:               p.info.AgentID,
		Description:        desc,
		Version:            version,
		DefaultInputModes:  []string{"text/plain", "application/json"},
		DefaultOutputModes: []string{"text/plain", "application/json"},
		Skills:             []agentcard.Skill{},
	}
	// The address-independent entry first: /p2p/<PeerID> is found through
	// the DHT wherever the node moves; then each current address.
	libp2p := []agentcard.Interface{{URL: "/p2p/" + p.id.String(), ProtocolBinding: BindingLibp2p, ProtocolVersion: "1.0"}}
	for _, a := range addrs {
		libp2p = append(libp2p, agentcard.Interface{URL: a, ProtocolBinding: BindingLibp2p, ProtocolVersion: "1.0"})
	}
	for _, name := range p.info.Capabilities {
		c.Skills = append(c.Skills, agentcard.Skill{
			ID: name, Name: name,
			Description: fmt.Sprintf("declared capability %q (advertised in the DHT under %s)", name, Namespace(name)),
			Tags:        []string{"capability", name},
		})
	}
	for _, a := range p.additions {
		c.SupportedInterfaces = append(c.SupportedInterfaces, a.Interfaces...)
		for k, v := range a.SecuritySchemes {
			if c.SecuritySchemes == nil {
				c.SecuritySchemes = map[string]agentcard.SecurityScheme{}
			}
			c.SecuritySchemes[k] = v
		}
		c.SecurityRequirements = append(c.SecurityRequirements, a.SecurityRequirements...)
		c.Skills = append(c.Skills, a.Skills...)
	}
	room := agentcard.MaxInterfaces - len(c.SupportedInterfaces)
	c.SupportedInterfaces = append(c.SupportedInterfaces, libp2p[:max(0, min(room, len(libp2p)))]...)
	c.Capabilities.Extensions = []agentcard.Extension{{
		URI:         ExtensionWeb4,
		Description: "web4p2p node: PeerID, protocols, capabilities and libp2p addresses",
		Params: map[string]any{
			"peer_id":      p.id.String(),
			"protocols":    nonNil(p.info.Protocols),
			"capabilities": nonNil(p.info.Capabilities),
			"addrs":        nonNil(addrs),
		},
	}}
	for _, a := range p.additions {
		if a.Edit != nil {
			a.Edit(&c)
		}
	}
	return c
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}

// Skills returns the skill ids of a card.
func Skills(c agentcard.Card) []string {
	out := make([]string, 0, len(c.Skills))
	for _, s := range c.Skills {
		out = append(out, s.ID)
	}
	return out
}

// Addrs returns the libp2p multiaddrs a card lists (its BindingLibp2p
// interfaces that name an address, not the bare /p2p/<id>).
func Addrs(c agentcard.Card) []string {
	var out []string
	for _, in := range c.SupportedInterfaces {
		if in.ProtocolBinding == BindingLibp2p && !strings.HasPrefix(in.URL, "/p2p/") {
			out = append(out, in.URL)
		}
	}
	return out
}

// Namespace is the DHT rendezvous namespace of a capability.
func Namespace(capability string) string { return NamespacePrefix + capability }

// NamespacePrefix prefixes a capability in its DHT namespace.
const NamespacePrefix = "web4/capability/"
