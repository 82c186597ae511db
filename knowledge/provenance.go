package knowledge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/web4p2p/web4p2p/protocols/envelope"
)

// Provenance buckets (SPEC §8: "facts, votes, evidence, DMP traces and
// causal links persist"). Keys are sortable so a prefix scan returns one
// fact's or one decision's records.
const (
	// BucketProvenance: fact id 0x00 msg_id → JSON Provenance.
	BucketProvenance = "knowledge.provenance"
	// BucketDecisions: decision id 0x00 msg_id → JSON Decision.
	BucketDecisions = "knowledge.decisions"
)

// Event types of provenance recording.
const (
	EventProvenanceRecorded = "web4.knowledge.provenance_recorded"
	EventDecisionShared     = "web4.knowledge.decision_shared"
)

// ErrInvalidProvenance: a FACT_PROPOSE's trace or links, or a
// DECISION_SHARE, failed validation.
var ErrInvalidProvenance = errors.New("knowledge: invalid provenance")

// DMPTrace is a decision trace (SPEC §4.1 dmp_trace, §10 causal memory):
// the decision, the steps that led to it, the alternatives considered and
// the evidence used.
type DMPTrace struct {
	DecisionID      string   `json:"decision_id"`
	Steps           []string `json:"steps"`
	Counterfactuals []string `json:"counterfactuals"`
	Evidence        []string `json:"evidence"`
}

// Provenance is where one proposal of a fact came from: who proposed it,
// from which sources and context, by which reasoning (Trace) and because of
// which earlier facts or decisions (CausalLinks). A fact proposed by several
// agents has one Provenance per proposal.
type Provenance struct {
	FactID      string    `json:"fact_id"`
	MsgID       string    `json:"msg_id"`
	Proposer    string    `json:"proposer"`
	At          time.Time `json:"at"`
	Sources     []string  `json:"sources"`
	Context     string    `json:"context"`
	Trace       DMPTrace  `json:"dmp_trace"`
	CausalLinks []string  `json:"causal_links"`
}

// Decision is a DECISION_SHARE: an agent's decision, its outcome and its
// trace, kept so `why` can follow causal links into decisions.
type Decision struct {
	// ID is the trace's decision_id.
	ID            string    `json:"id"`
	MsgID         string    `json:"msg_id"`
	Sender        string    `json:"sender"`
	At            time.Time `json:"at"`
	Choice        string    `json:"choice"`
	Outcome       string    `json:"outcome"`
	Context       string    `json:"context"`
	Trace         DMPTrace  `json:"dmp_trace"`
	Retrospective string    `json:"retrospective"`
}

type decisionPayload struct {
	Decision *struct {
		Choice  string `json:"choice"`
		Outcome string `json:"outcome"`
		Context string `json:"context"`
	} `json:"decision"`
	Trace         *DMPTrace `json:"dmp_trace"`
	Retrospective string    `json:"retrospective"`
}

// DecodeProvenance extracts the provenance of a FACT_PROPOSE (dmp_trace,
// causal_links, sources, context) or a DECISION_SHARE. Exactly one result
// is non-nil on success; other types are ErrUnsupportedType. Like Decode it
// is safe on unvalidated input and enforces the schema's bounds itself.
// The receive path uses DecodeMessage, which decodes a proposal once for
// both its fact and its provenance.
func DecodeProvenance(in Incoming) (*Provenance, *Decision, error) {
	switch in.Type {
	case envelope.FactPropose:
		var p proposePayload
		if err := decodeOne(in.Payload, &p); err != nil {
			return nil, nil, fmt.Errorf("%w: payload: %v", ErrInvalidProvenance, err)
		}
		pv, err := provenanceOf(in, &p)
		return pv, nil, err
	case envelope.DecisionShare:
		d, err := decisionOf(in)
		return nil, d, err
	}
	return nil, nil, fmt.Errorf("%w: %s carries no provenance", ErrUnsupportedType, in.Type)
}

// provenanceOf builds and validates the Provenance of a decoded
// FACT_PROPOSE.
func provenanceOf(in Incoming, p *proposePayload) (*Provenance, error) {
	if p.Fact == nil {
		return nil, fmt.Errorf("%w: payload.fact: required", ErrInvalidProvenance)
	}
	if p.Trace == nil {
		return nil, fmt.Errorf("%w: payload.dmp_trace: required", ErrInvalidProvenance)
	}
	id, err := factID(p.Fact.Domain, p.Fact.Statement)
	if err != nil {
		return nil, err
	}
	if p.FactID != nil && *p.FactID != id {
		return nil, fmt.Errorf("%w: payload.fact_id: does not match the statement", ErrInvalidFact)
	}
	pv := Provenance{FactID: id, MsgID: in.MsgID, Proposer: in.Sender, At: in.Time.UTC(),
		Sources: nonNilStrings(p.Fact.Sources), Context: p.Fact.Context, Trace: normTrace(*p.Trace),
		CausalLinks: nonNilStrings(p.CausalLinks)}
	if err := pv.Validate(); err != nil {
		return nil, err
	}
	return &pv, nil
}

// decisionOf decodes and validates a DECISION_SHARE.
func decisionOf(in Incoming) (*Decision, error) {
	var p decisionPayload
	if err := decodeOne(in.Payload, &p); err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrInvalidProvenance, err)
	}
	if p.Decision == nil {
		return nil, fmt.Errorf("%w: payload.decision: required", ErrInvalidProvenance)
	}
	if p.Trace == nil {
		return nil, fmt.Errorf("%w: payload.dmp_trace: required", ErrInvalidProvenance)
	}
	d := Decision{ID: p.Trace.DecisionID, MsgID: in.MsgID, Sender: in.Sender, At: in.Time.UTC(),
		Choice: p.Decision.Choice, Outcome: p.Decision.Outcome, Context: p.Decision.Context,
		Trace: normTrace(*p.Trace), Retrospective: p.Retrospective}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return &d, nil
}

// Validate checks a Provenance against the bounds of limits.go.
func (p Provenance) Validate() error {
	if err := checkFactRef(p.FactID); err != nil {
		return fmt.Errorf("%w: fact_id: %v", ErrInvalidProvenance, err)
	}
	if err := checkIDs(p.MsgID, p.Proposer, p.At); err != nil {
		return err
	}
	if err := checkTexts("payload.fact.sources", p.Sources, MaxProvenanceItems, MaxStatementBytes, false); err != nil {
		return err
	}
	if err := checkText("payload.fact.context", p.Context); err != nil {
		return err
	}
	if err := checkTexts("payload.causal_links", p.CausalLinks, MaxProvenanceItems, MaxDomainBytes, false); err != nil {
		return err
	}
	return p.Trace.validate("payload.dmp_trace")
}

// Validate checks a Decision against the bounds of limits.go.
func (d Decision) Validate() error {
	if d.Choice == "" || len(d.Choice) > MaxStatementBytes || !utf8.ValidString(d.Choice) {
		return fmt.Errorf("%w: payload.decision.choice: required UTF-8, at most %d bytes", ErrInvalidProvenance, MaxStatementBytes)
	}
	if err := checkIDs(d.MsgID, d.Sender, d.At); err != nil {
		return err
	}
	for path, s := range map[string]string{"payload.decision.outcome": d.Outcome, "payload.decision.context": d.Context, "payload.retrospective": d.Retrospective} {
		if err := checkText(path, s); err != nil {
			return err
		}
	}
	return d.Trace.validate("payload.dmp_trace")
}

func (t DMPTrace) validate(path string) error {
	if t.DecisionID == "" || len(t.DecisionID) > MaxDomainBytes || !utf8.ValidString(t.DecisionID) || strings.IndexByte(t.DecisionID, 0) >= 0 {
		// NUL is refused because it separates key parts in BucketDecisions.
		return fmt.Errorf("%w: %s.decision_id: required UTF-8 without NUL, at most %d bytes", ErrInvalidProvenance, path, MaxDomainBytes)
	}
	for name, list := range map[string][]string{"steps": t.Steps, "counterfactuals": t.Counterfactuals, "evidence": t.Evidence} {
		if err := checkTexts(path+"."+name, list, MaxProvenanceItems, MaxProvenanceText, true); err != nil {
			return err
		}
	}
	return nil
}

func checkIDs(msgID, who string, at time.Time) error {
	switch {
	case msgID == "" || len(msgID) > MaxIDBytes:
		return fmt.Errorf("%w: msg_id: required, at most %d bytes", ErrInvalidProvenance, MaxIDBytes)
	case who == "" || len(who) > MaxIDBytes:
		return fmt.Errorf("%w: sender: required, at most %d bytes", ErrInvalidProvenance, MaxIDBytes)
	case at.IsZero():
		return fmt.Errorf("%w: time: required", ErrInvalidProvenance)
	}
	return nil
}

func checkText(path, s string) error {
	if len(s) > MaxProvenanceText || !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s: UTF-8 of at most %d bytes", ErrInvalidProvenance, path, MaxProvenanceText)
	}
	return nil
}

func checkTexts(path string, list []string, maxItems, maxBytes int, allowEmpty bool) error {
	if len(list) > maxItems {
		return fmt.Errorf("%w: %s: %d items, max %d", ErrInvalidProvenance, path, len(list), maxItems)
	}
	for i, s := range list {
		if (!allowEmpty && s == "") || len(s) > maxBytes || !utf8.ValidString(s) {
			return fmt.Errorf("%w: %s[%d]: UTF-8 of 1..%d bytes", ErrInvalidProvenance, path, i, maxBytes)
		}
	}
	return nil
}

func checkFactRef(id string) error {
	if len(id) != 64 {
		return errors.New("must be a 64-character fact id")
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return errors.New("not lowercase hex")
		}
	}
	return nil
}

func normTrace(t DMPTrace) DMPTrace {
	t.Steps, t.Counterfactuals, t.Evidence = nonNilStrings(t.Steps), nonNilStrings(t.Counterfactuals), nonNilStrings(t.Evidence)
	return t
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// RecordProvenance persists fact provenance and shared decisions through a
// bbolt batch transaction (concurrent callers coalesce into one disk sync),
// then emits web4.knowledge.provenance_recorded / decision_shared (caused by
// the message's msg_id). Recording the same message twice is idempotent.
// Nothing is written if any record is invalid.
func (s *Store) RecordProvenance(ctx context.Context, ps []Provenance, ds []Decision) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	type kv struct{ k, v []byte }
	var pkv, dkv []kv
	for i, p := range ps {
		p.At = p.At.UTC()
		if err := p.Validate(); err != nil {
			s.em.Error("knowledge", "invalid_provenance", clip(p.FactID), err, map[string]any{"msg_id": clip(p.MsgID)})
			return fmt.Errorf("provenance[%d]: %w", i, err)
		}
		v, err := json.Marshal(p)
		if err != nil {
			return err
		}
		pkv = append(pkv, kv{prefixKey(p.FactID, p.MsgID), v})
	}
	for i, d := range ds {
		d.At = d.At.UTC()
		if err := d.Validate(); err != nil {
			s.em.Error("knowledge", "invalid_decision", clip(d.ID), err, map[string]any{"msg_id": clip(d.MsgID)})
			return fmt.Errorf("decisions[%d]: %w", i, err)
		}
		v, err := json.Marshal(d)
		if err != nil {
			return err
		}
		dkv = append(dkv, kv{prefixKey(d.ID, d.MsgID), v})
	}
	var newP, newD []bool
	err := s.db.Batch(func(tx *bolt.Tx) error {
		// Batch may run this function more than once; recompute what is new.
		newP, newD = make([]bool, len(pkv)), make([]bool, len(dkv))
		put := func(bucket string, items []kv, fresh []bool) error {
			if len(items) == 0 {
				return nil
			}
			b, err := tx.CreateBucketIfNotExists([]byte(bucket))
			if err != nil {
				return err
			}
			for i, it := range items {
				if old := b.Get(it.k); old != nil && bytes.Equal(old, it.v) {
					continue
				}
				fresh[i] = true
				if err := b.Put(it.k, it.v); err != nil {
					return err
				}
			}
			return nil
		}
		if err := put(BucketProvenance, pkv, newP); err != nil {
			return err
		}
		return put(BucketDecisions, dkv, newD)
	})
	if err != nil {
		s.em.Error("knowledge", "persist_failed", "", err, nil)
		return err
	}
	for i, p := range ps {
		if newP[i] {
			s.em.Emit(EventProvenanceRecorded, p.FactID, map[string]any{
				"fact_id": p.FactID, "msg_id": p.MsgID, "proposer": p.Proposer, "decision_id": p.Trace.DecisionID,
				"steps": len(p.Trace.Steps), "evidence": len(p.Trace.Evidence), "causal_links": len(p.CausalLinks),
			}, p.MsgID)
		}
	}
	for i, d := range ds {
		if newD[i] {
			s.em.Emit(EventDecisionShared, d.ID, map[string]any{
				"decision_id": d.ID, "msg_id": d.MsgID, "sender": d.Sender, "choice": clipN(d.Choice, maxEventStatement),
			}, d.MsgID)
		}
	}
	return nil
}

// Provenance returns every recorded proposal record of a fact, oldest
// first (ties by msg_id), read from the store.
func (s *Store) Provenance(factID string) ([]Provenance, error) {
	return records(s, BucketProvenance, factID, func(p *Provenance) (time.Time, string) { return p.At, p.MsgID })
}

// Decision returns every recorded DECISION_SHARE with the given decision
// id, oldest first (ties by msg_id).
func (s *Store) Decision(decisionID string) ([]Decision, error) {
	return records(s, BucketDecisions, decisionID, func(d *Decision) (time.Time, string) { return d.At, d.MsgID })
}

// records reads the JSON records stored under id in bucket, sorted by the
// time and then the msg_id that key returns.
func records[T any](s *Store, bucket, id string, key func(*T) (time.Time, string)) ([]T, error) {
	var out []T
	err := s.scan(bucket, id, func(v []byte) error {
		var r T
		if err := json.Unmarshal(v, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool {
		ti, mi := key(&out[i])
		tj, mj := key(&out[j])
		if !ti.Equal(tj) {
			return ti.Before(tj)
		}
		return mi < mj
	})
	return out, err
}

func (s *Store) scan(bucket, id string, fn func(v []byte) error) error {
	prefix := append([]byte(id), 0)
	return s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if err := fn(v); err != nil {
				return fmt.Errorf("knowledge: %s record %q corrupt: %w", bucket, k, err)
			}
		}
		return nil
	})
}

func prefixKey(id, msgID string) []byte {
	k := make([]byte, 0, len(id)+1+len(msgID))
	k = append(k, id...)
	k = append(k, 0)
	return append(k, msgID...)
}
