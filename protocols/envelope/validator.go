package envelope

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"sync"
	"time"

	"github.com/web4p2p/web4p2p/internal/events"
)

// Config configures a Validator. The zero value is not useful: set at least
// LocalFingerprint (or Gossip). Use DefaultConfig and override.
type Config struct {
	// Now is the local clock (check 5). Default time.Now.
	Now func() time.Time
	// MaxSkew is the accepted |timestamp - now| (check 5). Default
	// DefaultMaxSkew.
	MaxSkew time.Duration
	// MaxAge, if set, lets check 5 accept timestamps up to MaxAge in the
	// past (the future is still bounded by MaxSkew): for envelopes that
	// are not live but kept and re-sent, as anti-entropy sync does. A live
	// channel leaves it zero.
	MaxAge time.Duration
	// Replay remembers msg_ids (check 6). Share one cache between the
	// validators of a node so a msg_id cannot be replayed across channels.
	// Default: a private cache with DefaultReplayWindow/DefaultReplayCapacity.
	Replay *ReplayCache
	// LocalFingerprint is this node's fingerprint; check 7 accepts only
	// envelopes addressed to it.
	LocalFingerprint string
	// Gossip makes check 7 accept receiver "*" only (mesh-wide envelopes
	// arriving over GossipSub): an envelope addressed to one node has no
	// business on a topic, and a relay that accepted one addressed to
	// itself would forward what every other receiver rejects. Direct
	// channels leave it false and accept only LocalFingerprint.
	Gossip bool
	// Policy is check 8, the trust gate for (sender state, type); the router
	// supplies the SPEC §4.3 table. Its error becomes the Reason of an
	// ErrTrustViolation. nil allows everything.
	Policy func(env *Envelope) error
	// Events receives a "web4.envelope.rejected" event for every rejection.
	// nil discards.
	Events *events.Emitter
}

// DefaultConfig returns the defaults for a node whose fingerprint is local.
func DefaultConfig(local string) Config {
	return Config{Now: time.Now, MaxSkew: DefaultMaxSkew, LocalFingerprint: local}
}

// Validator runs the nine checks of SPEC §3.3 in order; the first failure
// wins. Safe for concurrent use.
type Validator struct {
	cfg Config
}

// NewValidator returns a Validator; unset fields of cfg get defaults.
func NewValidator(cfg Config) *Validator {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxSkew <= 0 {
		cfg.MaxSkew = DefaultMaxSkew
	}
	if cfg.Replay == nil {
		cfg.Replay = NewReplayCache(DefaultReplayWindow, DefaultReplayCapacity)
	}
	return &Validator{cfg: cfg}
}

// Validate runs all nine checks on raw. On success it returns the envelope.
// On failure the error is an *Error (errors.Is against the sentinels works);
// if the failure came after check 2 the parsed envelope is returned as
// well, for logging and for the caller's own decisions — it must not be
// believed: its identity fields may be forged (see SPEC §1: penalise the
// delivering peer, never the named sender).
func (v *Validator) Validate(raw []byte) (*Envelope, error) {
	env, err := v.validate(raw)
	if err != nil {
		v.reject(env, err)
		return env, err
	}
	env.verified = true
	return env, nil
}

func (v *Validator) validate(raw []byte) (*Envelope, error) {
	// Checks 1 and 2.
	env, doc, err := parse(raw)
	if err != nil {
		return nil, err
	}
	// Check 3.
	pub, err := checkIdentity(env)
	if err != nil {
		return env, err
	}
	// Check 4.
	if err := checkSignature(env, pub); err != nil {
		return env, err
	}
	// Check 5.
	now := v.cfg.Now()
	if d := env.Timestamp.Sub(now); d > v.cfg.MaxSkew || d < -max(v.cfg.MaxSkew, v.cfg.MaxAge) {
		limit := fmt.Sprintf("±%v", v.cfg.MaxSkew)
		if v.cfg.MaxAge > v.cfg.MaxSkew {
			limit = fmt.Sprintf("%v ahead, %v behind", v.cfg.MaxSkew, v.cfg.MaxAge)
		}
		return env, newErr(ErrTimestamp, CheckTimestamp, "timestamp",
			fmt.Sprintf("%s is %v from local time, limit %s", FormatTime(env.Timestamp), d.Round(time.Millisecond), limit))
	}
	// Check 6. The key includes the signer: keyed by msg_id alone, a peer
	// that saw an honest gossip envelope could race a copy of its msg_id
	// under its own signature to other nodes and get the honest one
	// dropped as a replay. The id is recorded only once checks 7–9 pass
	// (below): an envelope refused for this node's view (not addressed
	// here, a signer not admitted yet, a schema) must not burn its msg_id
	// for a later, valid delivery.
	replayKey := env.Sender.Fingerprint + "/" + env.MsgID
	if v.cfg.Replay.Seen(replayKey, now) {
		return env, replayErr()
	}
	// Check 7.
	switch rf := env.Receiver.Fingerprint; {
	case v.cfg.Gossip && rf != Broadcast:
		return env, newErr(ErrInvalidEnvelope, CheckReceiver, "receiver.fingerprint", `gossip carries only envelopes addressed to "*"`)
	case v.cfg.Gossip:
	case rf == Broadcast:
		return env, newErr(ErrInvalidEnvelope, CheckReceiver, "receiver.fingerprint", `"*" is only accepted on gossip`)
	case v.cfg.LocalFingerprint == "" || rf != v.cfg.LocalFingerprint:
		return env, newErr(ErrInvalidEnvelope, CheckReceiver, "receiver.fingerprint", "not addressed to this node")
	}
	// Check 8.
	if v.cfg.Policy != nil {
		if err := v.cfg.Policy(env); err != nil {
			return env, newErr(ErrTrustViolation, CheckTrust, "type", fmt.Sprintf("%v not allowed: %v", env.Type, err))
		}
	}
	// Check 9.
	if err := checkPayload(env.Type, doc.root["payload"]); err != nil {
		return env, err
	}
	// Check 6, committed: of two deliveries validated at once, one wins.
	if !v.cfg.Replay.Add(replayKey, now) {
		return env, replayErr()
	}
	return env, nil
}

func replayErr() error {
	return newErr(ErrReplay, CheckReplay, "msg_id", "already seen within the replay window")
}

func (v *Validator) reject(env *Envelope, err error) {
	if v.cfg.Events == nil {
		return
	}
	data := map[string]any{"detail": err.Error()}
	if e, ok := AsError(err); ok {
		data["check"] = e.Check
		data["kind"] = e.Kind.Error()
		data["path"] = e.Path
		data["reason"] = e.Reason
	}
	subject := ""
	if env != nil {
		subject = env.MsgID
		data["type"] = env.Type.String()
	}
	v.cfg.Events.Emit("web4.envelope.rejected", subject, data)
}

// VerifyIdentity runs check 3 alone: sender.fingerprint must be the SHA-256
// of sender.pubkey. Useful on envelopes embedded as evidence.
func VerifyIdentity(env *Envelope) error {
	_, err := checkIdentity(env)
	return err
}

// VerifySignature runs checks 3 and 4 on a parsed or sealed envelope.
func VerifySignature(env *Envelope) error {
	pub, err := checkIdentity(env)
	if err != nil {
		return err
	}
	return checkSignature(env, pub)
}

func checkIdentity(env *Envelope) (ed25519.PublicKey, error) {
	pub, err := DecodePubkey(env.Sender.Pubkey)
	if err != nil {
		return nil, newErr(ErrInvalidEnvelope, CheckShape, "sender.pubkey", err.Error())
	}
	if Fingerprint(pub) != env.Sender.Fingerprint {
		return nil, newErr(ErrFingerprintMismatch, CheckFingerprint, "sender.fingerprint", "is not the SHA-256 of sender.pubkey")
	}
	return pub, nil
}

func checkSignature(env *Envelope, pub ed25519.PublicKey) error {
	if env.Sign.Algo != Algo {
		return newErr(ErrSignatureMismatch, CheckSignature, "sign.algo", fmt.Sprintf("%q is not %q", env.Sign.Algo, Algo))
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(env.Sign.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return newErr(ErrSignatureMismatch, CheckSignature, "sign.signature", "not a canonical base64 64-byte signature")
	}
	msg, err := env.SigningBytes()
	if err != nil {
		return newErr(ErrSignatureMismatch, CheckSignature, "sign.signature", "cannot compute signed bytes: "+err.Error())
	}
	if !VerifyBytes(pub, msg, sig) {
		return newErr(ErrSignatureMismatch, CheckSignature, "sign.signature", "does not verify under sender.pubkey")
	}
	return nil
}

// checkPayload is check 9. Types without a registered schema only get the
// envelope-level "payload is an object" check (done in check 2).
func checkPayload(t Type, payload any) error {
	r, err := schemas()
	if err != nil {
		return err
	}
	s := r.payload(t)
	if s.lib == nil {
		return nil
	}
	if err := s.validate(payload); err != nil {
		return schemaError(err, ErrPayloadSchema, CheckPayload, "payload")
	}
	return nil
}

// ValidatePayload validates a payload (raw JSON object) against the schema
// registered for t — check 9 alone. Builders use it on what they are about
// to sign.
func ValidatePayload(t Type, payload []byte) error {
	doc, err := parseStrictValue(payload)
	if err != nil {
		return newErr(ErrPayloadSchema, CheckPayload, "payload", err.Error())
	}
	return checkPayload(t, doc)
}

// ReplayCache remembers msg_ids for a window with bounded memory. Entries
// are kept in arrival order; because the window is constant, that is also
// expiry order, so expiry and eviction are both O(1) at the front.
type ReplayCache struct {
	mu       sync.Mutex
	window   time.Duration
	capacity int
	seen     map[string]time.Time // msg_id → expiry
	order    []replayEntry        // FIFO; head is order[head]
	head     int
	evicted  uint64
}

type replayEntry struct {
	id     string
	expiry time.Time
}

// NewReplayCache returns a cache remembering ids for window, holding at most
// capacity ids (values ≤ 0 select the defaults).
func NewReplayCache(window time.Duration, capacity int) *ReplayCache {
	if window <= 0 {
		window = DefaultReplayWindow
	}
	if capacity <= 0 {
		capacity = DefaultReplayCapacity
	}
	return &ReplayCache{window: window, capacity: capacity, seen: make(map[string]time.Time)}
}

// Add records id as seen at now and reports whether it was new (false:
// a replay within the window).
func (c *ReplayCache) Add(id string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked(now)
	if exp, ok := c.seen[id]; ok && now.Before(exp) {
		return false
	}
	for len(c.seen) >= c.capacity {
		c.popLocked()
		c.evicted++
	}
	exp := now.Add(c.window)
	c.seen[id] = exp
	c.order = append(c.order, replayEntry{id, exp})
	return true
}

// Seen reports whether id was recorded within the window, without
// recording it.
func (c *ReplayCache) Seen(id string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	exp, ok := c.seen[id]
	return ok && now.Before(exp)
}

// Len is the number of remembered ids.
func (c *ReplayCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

// Evicted counts ids dropped before their window ended because the cache
// was full — each one is a msg_id that could be replayed undetected, so a
// non-zero value means the capacity is too small for the traffic.
func (c *ReplayCache) Evicted() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.evicted
}

func (c *ReplayCache) expireLocked(now time.Time) {
	for c.head < len(c.order) && !now.Before(c.order[c.head].expiry) {
		c.popLocked()
	}
}

func (c *ReplayCache) popLocked() {
	if c.head >= len(c.order) {
		return
	}
	e := c.order[c.head]
	c.order[c.head] = replayEntry{}
	c.head++
	if exp, ok := c.seen[e.id]; ok && exp.Equal(e.expiry) {
		delete(c.seen, e.id)
	}
	// Compact when the dead prefix dominates, keeping memory bounded.
	if c.head > 1024 && c.head*2 > len(c.order) {
		c.order = append([]replayEntry(nil), c.order[c.head:]...)
		c.head = 0
	}
}
