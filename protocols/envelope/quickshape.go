package envelope

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/web4p2p/web4p2p/internal/enum"
)

// quickCIP is a fast, conservative pre-check for check 2 on CIP envelopes:
// when it returns true the document certainly satisfies
// schema/envelope-cip.json, so the (much slower, allocation-heavy) schema
// run can be skipped; when it returns false the schema decides and produces
// the error. It may reject documents the schema accepts, never the reverse
// — TestQuickShapeImpliesSchema and FuzzQuickCIP check that implication, so
// the schema stays the single authority on what is valid. The string
// patterns it applies are the schema's own (cipPatterns).
//
// It exists because the JSON Schema run is, after the signature, among the
// largest costs of receiving an envelope (BenchmarkEnvelopeVerify measures
// both: quickcip-ratio, quickcip-e2e).
func (r *registry) quickCIP(m map[string]any) bool {
	p := r.cip
	if len(m) != 10 || m["cip"] != Version {
		return false
	}
	id, _ := m["msg_id"].(string)
	if !p.uuid4.MatchString(id) {
		return false
	}
	ts, _ := m["type"].(string)
	if t, ok := typeByName[ts]; !ok || t.Family() != CIP {
		return false
	}
	if !p.quickTimestamp(m["timestamp"]) {
		return false
	}
	s, ok := m["sender"].(map[string]any)
	if !ok || len(s) != 4 || !quickString(s["agent_id"], 1, 128) || !quickPattern(s["fingerprint"], p.fingerprint) ||
		!quickLabels(s["capabilities"]) || !quickPattern(s["pubkey"], p.pubkey) {
		return false
	}
	rc, ok := m["receiver"].(map[string]any)
	if !ok || len(rc) != 2 || !quickString(rc["agent_id"], 0, 128) {
		return false
	}
	if rc["fingerprint"] != Broadcast && !quickPattern(rc["fingerprint"], p.fingerprint) {
		return false
	}
	t, ok := m["trust"].(map[string]any)
	if !ok || len(t) != 2 {
		return false
	}
	sv, _ := t["sender_view"].(string)
	rv, _ := t["receiver_view"].(string)
	if v, ok := enum.Parse[TrustView](viewNames, sv); !ok || v == ViewUnknown {
		return false
	}
	if _, ok := enum.Parse[TrustView](viewNames, rv); !ok {
		return false
	}
	st, ok := m["state"].(map[string]any)
	if !ok || len(st) != 4 || !quickString(st["intent"], 0, 1024) || !quickLabels(st["kernel_signals"]) {
		return false
	}
	pr, _ := st["presence"].(string)
	if _, ok := enum.Parse[Presence](presenceNames, pr); !ok {
		return false
	}
	if !quickPercent(st["lri"]) {
		return false
	}
	if _, ok := m["payload"].(map[string]any); !ok {
		return false
	}
	sg, ok := m["sign"].(map[string]any)
	return ok && len(sg) == 2 && sg["algo"] == Algo && quickPattern(sg["signature"], p.signature)
}

func quickString(v any, minRunes, maxRunes int) bool {
	s, ok := v.(string)
	if !ok || len(s) < minRunes {
		return false
	}
	if len(s) <= maxRunes {
		return true // bytes ≥ runes
	}
	n := utf8.RuneCountInString(s)
	return n >= minRunes && n <= maxRunes
}

func quickPattern(v any, re *regexp.Regexp) bool {
	s, ok := v.(string)
	return ok && re.MatchString(s)
}

func quickLabels(v any) bool {
	a, ok := v.([]any)
	if !ok || len(a) > 64 {
		return false
	}
	for _, e := range a {
		if !quickString(e, 1, 256) {
			return false
		}
	}
	return true
}

// quickPercent accepts only plain decimal literals 0..100.
func quickPercent(v any) bool {
	n, ok := v.(json.Number)
	if !ok || len(n) == 0 || len(n) > 3 {
		return false
	}
	x := 0
	for i := 0; i < len(n); i++ {
		if n[i] < '0' || n[i] > '9' {
			return false
		}
		x = x*10 + int(n[i]-'0')
	}
	return x <= 100 && (len(n) == 1 || n[0] != '0')
}

func (p *cipPatterns) quickTimestamp(v any) bool {
	s, ok := v.(string)
	if !ok || !p.timestamp.MatchString(s) {
		return false
	}
	// Hour 23 at most and seconds 59 at most: leave leap seconds and other
	// corner cases to the schema's date-time format.
	if s[11] > '2' || (s[11] == '2' && s[12] > '3') || s[17] > '5' {
		return false
	}
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}

// cipPatterns are the patterns of the common.json definitions that
// quickCIP checks, compiled from the schema file with regexp (as the
// library compiles them), so the quick check cannot drift from the schema.
type cipPatterns struct {
	uuid4, timestamp, fingerprint, pubkey, signature *regexp.Regexp
}

// compileCIPPatterns takes the patterns from the common.json document.
func compileCIPPatterns(common any) (*cipPatterns, error) {
	root, _ := common.(map[string]any)
	defs, _ := root["$defs"].(map[string]any)
	var errs error
	pattern := func(name string) *regexp.Regexp {
		def, _ := defs[name].(map[string]any)
		src, ok := def["pattern"].(string)
		if !ok {
			errs = errors.Join(errs, fmt.Errorf("common.json: $defs/%s has no pattern", name))
			return nil
		}
		re, err := regexp.Compile(src)
		errs = errors.Join(errs, err)
		return re
	}
	p := &cipPatterns{uuid4: pattern("uuid4"), timestamp: pattern("timestamp"), fingerprint: pattern("fingerprint"),
		pubkey: pattern("pubkey"), signature: pattern("signature")}
	return p, errs
}
