// Package envelope is the one message model shared by the three web4p2p
// protocols: CIP (agent ↔ agent), HCP (human ↔ agent) and LIP (internet ↔
// agent) (SPEC §3).
//
// An envelope is a JSON object with a version key ("cip", "hcp" or "lip"),
// a msg_id, a type, a timestamp, sender/receiver identities, trust and state
// blocks, a payload and an Ed25519 signature over
// "web4-envelope/1.0\n" + JCS(envelope without sign) (RFC 8785 through
// github.com/gowebpki/jcs). Seal produces canonical wire bytes; Parse and
// Validator take wire bytes apart. Signer is the one place that stamps an
// envelope (msg_id, timestamp, sender) and seals it: the cip, hcp and lip
// Builders are typed wrappers around it. FactID is the one definition of a
// fact's id (SPEC §4.1).
//
// The Validator runs the nine checks of SPEC §3.3 in order — strict JSON,
// envelope schema, fingerprint, signature, clock skew, replay, receiver,
// trust policy, payload schema — and reports the first failure as an *Error
// carrying the sentinel kind, the check number, the field path and a
// reason. The signature is verified over the received bytes (minus sign),
// never over a re-encoding, so nothing a sender signed can be silently
// dropped or altered by our own decoding.
//
// JSON Schemas (draft 2020-12) for the envelopes and every CIP payload ship
// in schema/ and are embedded; HCP and LIP packages add theirs with
// RegisterPayloadSchema. The schemas, validated by
// santhosh-tekuri/jsonschema, are the single authority on what is valid and
// on every schema error; a quick pre-check compiled from the same schema
// documents (quickSchema) only shortcuts the common valid case of checks 2
// and 9, and is tested and fuzzed against the library.
//
// The strict scanner of check 1 and quickSchema are the package's fast
// paths over a library path (encoding/json with jcs, and the jsonschema
// library); each is fuzzed against its library path (library_test.go,
// FuzzParse, FuzzQuickSchema) and weighed against it by
// BenchmarkFastPaths.
//
// Signatures are made and verified with curve25519-voi (SignBytes,
// VerifyBytes) under exactly crypto/ed25519's rules, with a process-wide
// cache of expanded public keys (BenchmarkEnvelopeVerify reports
// verification against crypto/ed25519 as stdlib-ratio). The trust table of
// check 8 is not here: the router supplies it as Config.Policy, so this
// package stays a pure leaf with no networking or trust imports. Bounds
// live in limits.go.
package envelope
