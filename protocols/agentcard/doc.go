// Package agentcard is the A2A v1.0 Agent Card (A2A specification §4.4 and
// §8): the self-describing JSON document an agent publishes so other agents
// can find it, learn its skills and the interfaces it answers on, and check
// who published it.
//
// The package is pure — no HTTP, no host. The control API serves a card at
// /.well-known/agent-card.json and the DHT carries signed cards; both build
// on the same three operations:
//
//   - Decode parses a card strictly (bounded size, required fields, known
//     shapes) and reports the first bad field by its JSON path;
//   - Sign adds a JWS signature as A2A §8.4 describes: the payload is the
//     RFC 8785 (JCS) canonical form of the card with its "signatures"
//     member removed; the signature is kept detached (the card carries only
//     the protected header and the signature, never the payload);
//   - Verify recomputes the canonical payload from the raw JSON as received
//     (unknown members included, so a verifier never drops what the signer
//     signed) and checks every signature.
//
// Keys are libp2p Ed25519 identity keys, so the signer of a card is a
// PeerID. The protected header is {"alg":"EdDSA","typ":"JOSE","kid":<PeerID>,
// "jwk":{"kty":"OKP","crv":"Ed25519","x":<public key>}}: a verifier that
// knows nothing else can check the signature with the jwk, and one that
// expects a particular peer (a mesh connection, a DHT key) checks that kid
// is that PeerID and that the jwk is the key the PeerID names — Verify
// enforces the second always, so a header cannot claim a PeerID it does not
// hold the key of.
package agentcard
