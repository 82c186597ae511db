package lip

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/internal/store"
	"github.com/web4p2p/web4p2p/protocols/envelope"
)

const tierFile = `{
  "default": "unknown",
  "sources": [
    {"pattern": "who.int", "tier": "high"},
    {"pattern": "*.who.int", "tier": "medium"},
    {"pattern": "*.news.example", "tier": "low"},
    {"pattern": "*.trusted.news.example", "tier": "high"},
    {"pattern": "Spam.Example", "tier": "blocked"}
  ]
}`

func openDB(t *testing.T, dir string) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(dir, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func testEmitter(t *testing.T) (*events.Emitter, *events.Ring) {
	t.Helper()
	ring := events.NewRing(1024)
	sink := &events.CheckingSink{Next: ring}
	t.Cleanup(func() {
		if f := sink.Failures(); len(f) > 0 {
			t.Errorf("events failed the schema: %v", f)
		}
	})
	return events.NewEmitter("12D3KooWLipTest", sink, func() time.Time { return t0 }), ring
}

func TestTierPatterns(t *testing.T) {
	cfg, err := ParseTierConfig([]byte(tierFile))
	if err != nil {
		t.Fatal(err)
	}
	tiers, err := OpenTiers(nil, cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]envelope.Tier{
		"who.int": envelope.TierHigh, "WHO.INT.": envelope.TierHigh, "www.who.int": envelope.TierMedium,
		"a.b.who.int": envelope.TierMedium, "notwho.int": envelope.TierUnknown,
		"x.news.example": envelope.TierLow, "news.example": envelope.TierUnknown,
		"a.trusted.news.example": envelope.TierHigh, "spam.example": envelope.TierBlocked,
		"other.org": envelope.TierUnknown, "": envelope.TierUnknown,
	} {
		if got := tiers.Tier(host); got != want {
			t.Errorf("Tier(%q) = %v, want %v", host, got, want)
		}
	}
	if tiers.TierOf("https://www.who.int:443/fact") != envelope.TierMedium {
		t.Fatal("TierOf")
	}
}

func TestTierConfigErrors(t *testing.T) {
	cases := map[string]struct{ file, want string }{
		"syntax":        {"{\n  \"default\": \"low\",\n  \"sources\": [\n    {\"pattern\": \"a.b\" \"tier\": \"low\"}\n]}", "line 4"},
		"unknown field": {`{"sources":[{"pattern":"a.b","tier":"low","weight":3}]}`, `"weight"`},
		"bad tier":      {"{\"sources\":[\n{\"pattern\":\"a.b\",\"tier\":\"great\"}]}", "great"},
		"type":          {`{"sources":[{"pattern":7,"tier":"low"}]}`, "sources.pattern"},
		"bad pattern":   {`{"sources":[{"pattern":"ok.org","tier":"low"},{"pattern":"a*.org","tier":"low"}]}`, "sources[1].pattern"},
		"empty label":   {`{"sources":[{"pattern":"*..org","tier":"low"}]}`, "sources[0].pattern"},
		"no tier":       {`{"sources":[{"pattern":"a.org"}]}`, "sources[0].tier"},
		"duplicate":     {`{"sources":[{"pattern":"a.org","tier":"low"},{"pattern":"A.org","tier":"high"}]}`, "sources[1].pattern"},
		"trailing":      {`{"sources":[]} {}`, "trailing"},
	}
	for name, c := range cases {
		_, err := ParseTierConfig([]byte(c.file))
		if !errors.Is(err, ErrTierConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v (want mention of %s)", name, err, c.want)
		}
	}
	if _, err := LoadTierConfig(filepath.Join(t.TempDir(), "missing.json")); !errors.Is(err, ErrTierConfig) {
		t.Fatal(err)
	}
}

func TestTierDemotionPersists(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := ParseTierConfig([]byte(tierFile))
	em, ring := testEmitter(t)
	db := openDB(t, dir)
	tiers, err := OpenTiers(db, cfg, em, nil)
	if err != nil {
		t.Fatal(err)
	}
	steps := []envelope.Tier{envelope.TierMedium, envelope.TierLow, envelope.TierUnknown, envelope.TierBlocked, envelope.TierBlocked}
	for i, want := range steps {
		from, to, err := tiers.Demote("who.int", "accepted claim later rejected")
		if err != nil || to != want {
			t.Fatalf("step %d: %v→%v %v, want →%v", i, from, to, err, want)
		}
	}
	if n := ring.Count("web4.lip.tier_changed"); n != 4 {
		t.Fatalf("tier_changed events = %d, want 4 (no event when nothing changes)", n)
	}
	if tiers.Tier("www.who.int") != envelope.TierMedium {
		t.Fatal("demotion leaked to another host")
	}
	if tiers.Configured("who.int") != envelope.TierHigh {
		t.Fatal("configured tier changed")
	}
	if _, to, _ := tiers.Demote("fresh.org", "x"); to != envelope.TierBlocked {
		t.Fatalf("unknown demotes to blocked, got %v", to)
	}
	if _, to, _ := tiers.Demote("x.news.example", "x"); to != envelope.TierUnknown || tiers.Tier("y.news.example") != envelope.TierLow {
		t.Fatalf("low demotes to unknown for that host only, got %v", to)
	}
	db.Close()

	db = openDB(t, dir)
	defer db.Close()
	again, err := OpenTiers(db, cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Tier("who.int") != envelope.TierBlocked || again.Tier("fresh.org") != envelope.TierBlocked || again.Tier("x.news.example") != envelope.TierUnknown {
		t.Fatalf("after restart: %v %v", again.Tier("who.int"), again.Tier("fresh.org"))
	}
	e := ring.Events()[0]
	if e.Data["from"] != "high" || e.Data["to"] != "medium" || e.Subject != "who.int" {
		t.Fatalf("event %+v", e)
	}
}

func FuzzParseTierConfig(f *testing.F) {
	f.Add([]byte(tierFile))
	f.Add([]byte(`{"sources":[{"pattern":"*.","tier":"low"}]}`))
	f.Add([]byte(`{"default":"blocked"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := ParseTierConfig(b)
		if err != nil {
			if !errors.Is(err, ErrTierConfig) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		tiers, err := OpenTiers(nil, cfg, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range cfg.Sources {
			if tiers.Tier(strings.TrimPrefix(r.Pattern, "*.")+"x").Rank() < 0 {
				t.Fatal("invalid tier")
			}
		}
	})
}
