package trust

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/internal/store"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestTranscriptGolden drives the Ledger through a scripted life of a few
// peers (raft datadriven style) and compares the full transition history
// with testdata/transcript.golden. Run with -update after an intended
// change and review the diff: it is the readable record of the §5 table.
func TestTranscriptGolden(t *testing.T) {
	script := `
# peer  +seconds  event           cause
anchor  0     anchor                config:anchor
alice   0     valid_handshake       m-hello-1
alice   10    fact_accepted         m-fact-1
alice   20    fact_accepted         m-fact-2
alice   30    invalid_message       m-bad-1
alice   40    conflict_lost         m-fact-3
alice   50    fingerprint_mismatch  m-forged
alice   60    valid_handshake       m-hello-2
alice   70    manual_override       operator:reviewed
bob     0     bad_signature         m-hello-3
bob     30    valid_handshake       m-hello-4
bob     40    vouched               m-attest-1
bob     41    valid_handshake       m-hello-5
bob     50    invalid_message       m-bad-2
bob     51    invalid_message       m-bad-3
bob     52    invalid_message       m-bad-4
bob     200   valid_handshake       m-hello-6
bob     210   proven_malice         m-equivocation
carol   0     valid_handshake       m-hello-7
carol   5     attested_untrusted    m-attest-2
carol   70    valid_handshake       m-hello-8
`
	names := map[string]string{"anchor": fp('0'), "alice": fp('a'), "bob": fp('b'), "carol": fp('c')}
	clk := &clock{t: t0}
	db, err := store.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l, err := OpenLedger(db, LedgerConfig{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, line := range strings.Split(script, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var who, evName, cause string
		var secs int
		if _, err := fmt.Sscanf(line, "%s %d %s %s", &who, &secs, &evName, &cause); err != nil {
			t.Fatalf("script line %q: %v", line, err)
		}
		ev, err := ParseEvent(evName)
		if err != nil {
			t.Fatal(err)
		}
		clk.mu.Lock()
		clk.t = t0.Add(time.Duration(secs) * time.Second)
		clk.mu.Unlock()
		tr, err := l.Apply(names[who], ev, cause)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "%-6s +%-4d %-21s", who, secs, ev)
		if tr == nil {
			fmt.Fprintf(&out, "  (stays %s)\n", l.State(names[who]))
			continue
		}
		fmt.Fprintf(&out, "  %s -> %s  cause=%s invalid=%d accepted=%d vouched=%v seq=%d\n",
			tr.From, tr.To, tr.Cause, tr.Counters.InvalidInWindow, tr.Counters.AcceptedFacts, tr.Counters.Vouched, tr.Seq)
	}
	golden := filepath.Join("testdata", "transcript.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if out.String() != string(want) {
		t.Fatalf("transcript differs from %s:\n--- got\n%s--- want\n%s", golden, out.String(), want)
	}
}

func fp(c byte) string { return strings.Repeat(string(c), 64) }
