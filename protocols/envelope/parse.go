package envelope

import (
	"encoding/json"
	"time"

	"github.com/web4p2p/web4p2p/internal/enum"
)

// Parse runs checks 1 and 2 of SPEC §3.3 — strict JSON, then version,
// required fields, enums, UUID v4 and formats against the family's envelope
// schema — and returns the envelope. It does not check fingerprint,
// signature, time, replay, receiver, trust or payload: use a Validator for
// anything received from the network.
func Parse(raw []byte) (*Envelope, error) {
	env, _, err := parse(raw)
	return env, err
}

func parse(raw []byte) (*Envelope, *document, error) {
	doc, err := parseStrict(raw)
	if err != nil {
		return nil, nil, err
	}
	r, err := schemas()
	if err != nil {
		return nil, nil, err
	}
	fam, err := family(doc.root)
	if err != nil {
		return nil, nil, err
	}
	if err := r.envelopes[fam].validate(doc.root); err != nil {
		return nil, nil, schemaError(err, ErrInvalidEnvelope, CheckShape, "")
	}
	env, err := fromDoc(fam, doc)
	if err != nil {
		return nil, nil, err
	}
	return env, doc, nil
}

// family picks the envelope schema from the version key; exactly one of
// cip, hcp, lip must be present.
func family(root map[string]any) (Family, error) {
	var fam Family
	for f := CIP; f <= LIP; f++ {
		if _, ok := root[f.String()]; ok {
			if fam != 0 {
				return 0, newErr(ErrInvalidEnvelope, CheckShape, f.String(), "more than one version key (cip, hcp, lip)")
			}
			fam = f
		}
	}
	if fam == 0 {
		return 0, newErr(ErrInvalidEnvelope, CheckShape, "cip", "version key missing (one of cip, hcp, lip)")
	}
	return fam, nil
}

// fromDoc copies a schema-valid document into an Envelope. The schema has
// already checked every type and enum, so the conversions below cannot fail
// except on values the schema allows but Go cannot hold (timestamps outside
// time.Time's range), which are reported as check 2 failures.
func fromDoc(fam Family, doc *document) (*Envelope, error) {
	m := doc.root
	e := &Envelope{Family: fam, raw: doc.raw, signed: doc.signed()}
	e.MsgID = str(m["msg_id"])
	t, err := ParseType(str(m["type"]))
	if err != nil {
		return nil, newErr(ErrInvalidEnvelope, CheckShape, "type", err.Error())
	}
	e.Type = t
	if e.Timestamp, err = parseTime(m["timestamp"], "timestamp"); err != nil {
		return nil, err
	}
	s := obj(m["sender"])
	e.Sender = Sender{AgentID: str(s["agent_id"]), Fingerprint: str(s["fingerprint"]),
		Capabilities: strs(s["capabilities"]), Pubkey: str(s["pubkey"])}
	rc := obj(m["receiver"])
	e.Receiver = Receiver{AgentID: str(rc["agent_id"]), Fingerprint: str(rc["fingerprint"])}
	tr := obj(m["trust"])
	e.Trust.SenderView, _ = enum.Parse[TrustView](viewNames, str(tr["sender_view"]))
	e.Trust.ReceiverView, _ = enum.Parse[TrustView](viewNames, str(tr["receiver_view"]))
	st := obj(m["state"])
	e.State.Presence, _ = enum.Parse[Presence](presenceNames, str(st["presence"]))
	e.State.LRI = integer(st["lri"])
	e.State.KernelSignals = strs(st["kernel_signals"])
	e.State.Intent = str(st["intent"])
	if h, ok := st["human"].(map[string]any); ok {
		hu := &Human{Clarity: integer(h["clarity"]), Pressure: integer(h["pressure"]),
			Intent: str(h["intent"]), ConsentScope: strs(h["consent_scope"])}
		hu.Presence, _ = enum.Parse[Presence](presenceNames, str(h["presence"]))
		hu.Affect, _ = enum.Parse[Affect](affectNames, str(h["affect"]))
		hu.Consent, _ = enum.Parse[Consent](consentNames, str(h["consent"]))
		if v, ok := h["consent_expires"]; ok {
			if hu.ConsentExpires, err = parseTime(v, "state.human.consent_expires"); err != nil {
				return nil, err
			}
		}
		e.State.Human = hu
	}
	if src, ok := m["source"].(map[string]any); ok {
		so := &Source{URI: str(src["uri"])}
		so.TrustTier, _ = enum.Parse[Tier](tierNames, str(src["trust_tier"]))
		if so.RetrievedAt, err = parseTime(src["retrieved_at"], "source.retrieved_at"); err != nil {
			return nil, err
		}
		e.Source = so
	}
	e.Payload = json.RawMessage(doc.payload)
	sg := obj(m["sign"])
	e.Sign = Signature{Algo: str(sg["algo"]), Signature: str(sg["signature"])}
	return e, nil
}

func parseTime(v any, path string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, str(v))
	if err != nil {
		return time.Time{}, newErr(ErrInvalidEnvelope, CheckShape, path, "not an RFC 3339 UTC timestamp")
	}
	return t.UTC(), nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func strs(v any) []string {
	a, _ := v.([]any)
	out := make([]string, 0, len(a))
	for _, x := range a {
		out = append(out, str(x))
	}
	return out
}

// integer converts a schema-checked integer (0..100) to int.
func integer(v any) int {
	n, _ := v.(json.Number)
	if i, err := n.Int64(); err == nil {
		return int(i)
	}
	// JSON allows 50.0 for an integer; the schema accepted it as one.
	f, _ := n.Float64()
	return int(f)
}
