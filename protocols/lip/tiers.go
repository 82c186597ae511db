package lip

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/internal/store"
	"github.com/web4p2p/web4p2p/protocols/envelope"
)

// TierConfig is the source-tier file: a default tier and domain patterns.
//
//	{"default": "unknown",
//	 "sources": [
//	   {"pattern": "who.int",         "tier": "high"},
//	   {"pattern": "*.who.int",       "tier": "high"},
//	   {"pattern": "*.example-blog.net", "tier": "low"},
//	   {"pattern": "spam.example",    "tier": "blocked"}]}
//
// A pattern is a host name ("who.int" matches exactly that host) or
// "*." + a host name (matches every subdomain, not the name itself). The
// most specific matching pattern wins: an exact name beats a wildcard, a
// longer wildcard beats a shorter one.
type TierConfig struct {
	Default envelope.Tier `json:"default"`
	Sources []TierRule    `json:"sources"`
}

// TierRule is one pattern → tier line of the file.
type TierRule struct {
	Pattern string        `json:"pattern"`
	Tier    envelope.Tier `json:"tier"`
}

// ParseTierConfig parses and checks a tier file. Errors wrap ErrTierConfig
// and name the line and column (syntax) or the field
// ("sources[3].pattern") at fault.
func ParseTierConfig(data []byte) (TierConfig, error) {
	var cfg TierConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return TierConfig{}, fmt.Errorf("%w: %s", ErrTierConfig, describeJSONError(data, dec, err))
	}
	if dec.More() {
		return TierConfig{}, fmt.Errorf("%w: %s: trailing data after the object", ErrTierConfig, lineCol(data, dec.InputOffset()))
	}
	if cfg.Default == 0 {
		cfg.Default = envelope.TierUnknown
	}
	if len(cfg.Sources) > MaxTierRules {
		return TierConfig{}, fmt.Errorf("%w: sources: %d rules, max %d", ErrTierConfig, len(cfg.Sources), MaxTierRules)
	}
	seen := map[string]int{}
	for i, r := range cfg.Sources {
		p := strings.ToLower(strings.TrimSpace(r.Pattern))
		if err := checkPattern(p); err != nil {
			return TierConfig{}, fmt.Errorf("%w: sources[%d].pattern: %q: %v", ErrTierConfig, i, r.Pattern, err)
		}
		if r.Tier == 0 {
			return TierConfig{}, fmt.Errorf("%w: sources[%d].tier: required", ErrTierConfig, i)
		}
		if j, dup := seen[p]; dup {
			return TierConfig{}, fmt.Errorf("%w: sources[%d].pattern: %q repeats sources[%d]", ErrTierConfig, i, p, j)
		}
		seen[p] = i
		cfg.Sources[i].Pattern = p
	}
	return cfg, nil
}

// LoadTierConfig reads and parses a tier file; errors name the path.
func LoadTierConfig(path string) (TierConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return TierConfig{}, fmt.Errorf("%w: %w", ErrTierConfig, err)
	}
	cfg, err := ParseTierConfig(b)
	if err != nil {
		return TierConfig{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

func describeJSONError(data []byte, dec *json.Decoder, err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("%s: %v", lineCol(data, se.Offset), se)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "(top level)"
		}
		return fmt.Sprintf("%s: field %s: want %v, got JSON %s", lineCol(data, te.Offset), field, te.Type, te.Value)
	default:
		// Unknown fields and enum errors (from UnmarshalText) carry no
		// offset in the error; the decoder's position is just after the
		// offending value.
		return fmt.Sprintf("%s: %v", lineCol(data, dec.InputOffset()), err)
	}
}

// lineCol renders a byte offset as "line L, column C" (1-based).
func lineCol(data []byte, off int64) string {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off < 0 {
		off = 0
	}
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	col := off - int64(bytes.LastIndexByte(data[:off], '\n'))
	return fmt.Sprintf("line %d, column %d", line, col)
}

func checkPattern(p string) error {
	host := strings.TrimPrefix(p, "*.")
	if host == "" {
		return errors.New("empty")
	}
	if len(host) > 253 {
		return errors.New("longer than 253 bytes")
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || len(label) > 63 {
			return errors.New("empty or over-long label")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("character %q not allowed (use *.name for wildcards, punycode for IDNs)", c)
			}
		}
	}
	return nil
}

// Tiers answers "how far do we trust this source?" from the tier file,
// adjusted by historical accuracy. Safe for concurrent use.
type Tiers struct {
	mu     sync.RWMutex
	exact  map[string]envelope.Tier
	wild   []TierRule // "*.x" rules, longest suffix first
	def    envelope.Tier
	adjust map[string]tierAdjust // host → demoted tier (persisted)
	db     *store.DB
	events *events.Emitter
	now    func() time.Time
}

type tierAdjust struct {
	Tier   envelope.Tier `json:"tier"`
	From   envelope.Tier `json:"from"`
	Reason string        `json:"reason"`
	At     time.Time     `json:"at"`
}

// tierBucket holds per-host adjustments.
const tierBucket = "lip.tiers"

// OpenTiers builds Tiers from a parsed config and loads the persisted
// adjustments from db (nil db: adjustments live in memory only). now may
// be nil (time.Now); em may be nil.
func OpenTiers(db *store.DB, cfg TierConfig, em *events.Emitter, now func() time.Time) (*Tiers, error) {
	if now == nil {
		now = time.Now
	}
	t := &Tiers{exact: map[string]envelope.Tier{}, def: cfg.Default, adjust: map[string]tierAdjust{}, db: db, events: em, now: now}
	if t.def == 0 {
		t.def = envelope.TierUnknown
	}
	for _, r := range cfg.Sources {
		p := strings.ToLower(r.Pattern)
		if strings.HasPrefix(p, "*.") {
			t.wild = append(t.wild, TierRule{Pattern: p[1:], Tier: r.Tier}) // keep ".x"
		} else {
			t.exact[p] = r.Tier
		}
	}
	sort.SliceStable(t.wild, func(i, j int) bool { return len(t.wild[i].Pattern) > len(t.wild[j].Pattern) })
	if db != nil {
		err := db.ForEach(tierBucket, func(k, v []byte) error {
			var a tierAdjust
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("lip: tier adjustment %q: %w", k, err)
			}
			t.adjust[string(k)] = a
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return t, nil
}

// Configured returns the tier the file gives host, ignoring adjustments.
func (t *Tiers) Configured(host string) envelope.Tier {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.configuredLocked(host)
}

func (t *Tiers) configuredLocked(host string) envelope.Tier {
	if tier, ok := t.exact[host]; ok {
		return tier
	}
	for _, r := range t.wild {
		if strings.HasSuffix(host, r.Pattern) {
			return r.Tier
		}
	}
	return t.def
}

// Tier returns host's current tier: the configured tier, or the adjusted
// one when historical accuracy lowered it. Blocked in the file always wins.
func (t *Tiers) Tier(host string) envelope.Tier {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.tierLocked(host)
}

func (t *Tiers) tierLocked(host string) envelope.Tier {
	conf := t.configuredLocked(host)
	if a, ok := t.adjust[host]; ok && a.Tier.Rank() < conf.Rank() {
		return a.Tier
	}
	return conf
}

// TierOf returns the current tier of a URI's host.
func (t *Tiers) TierOf(uri string) envelope.Tier { return t.Tier(HostOf(uri)) }

// Lower returns the tier one rank below (envelope.Tier.Rank): high →
// medium → low → unknown → blocked; blocked stays blocked. A low source
// proven wrong is no better than one we know nothing about, and an unknown
// one proven wrong is refused from then on.
func Lower(tier envelope.Tier) envelope.Tier {
	switch tier {
	case envelope.TierHigh:
		return envelope.TierMedium
	case envelope.TierMedium:
		return envelope.TierLow
	case envelope.TierLow:
		return envelope.TierUnknown
	}
	return envelope.TierBlocked
}

// Demote lowers host one tier because one of its accepted claims was later
// rejected. The change persists and emits web4.lip.tier_changed; it
// returns the old and new tier.
func (t *Tiers) Demote(host, reason string, causes ...string) (from, to envelope.Tier, err error) {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "" {
		return 0, 0, fmt.Errorf("%w: tier demotion: empty host", ErrInvalidClaim)
	}
	t.mu.Lock()
	from = t.tierLocked(host)
	to = Lower(from)
	if to == from {
		t.mu.Unlock()
		return from, to, nil
	}
	a := tierAdjust{Tier: to, From: from, Reason: clipReason(reason), At: t.now().UTC()}
	if t.db != nil {
		b, _ := json.Marshal(a)
		if err := t.db.Put(tierBucket, []byte(host), b); err != nil {
			t.mu.Unlock()
			return from, from, fmt.Errorf("lip: persist tier of %s: %w", host, err)
		}
	}
	t.adjust[host] = a
	t.mu.Unlock()
	t.events.Emit("web4.lip.tier_changed", host, map[string]any{
		"host": host, "from": from.String(), "to": to.String(), "reason": a.Reason,
	}, causes...)
	return from, to, nil
}
