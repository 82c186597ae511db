package trust

import (
	"testing"
	"time"
)

func FuzzParseState(f *testing.F) {
	for _, s := range []string{"unknown", "untrusted", "probing", "trusted", "blacklisted", "", "Trusted", "trusted\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParseState(s)
		if err != nil {
			if st != 0 {
				t.Fatalf("error with state %d", st)
			}
			return
		}
		if !st.Valid() || st.String() != s {
			t.Fatalf("%q parsed to %s", s, st)
		}
	})
}

// FuzzStep drives the FSM with arbitrary event sequences and checks its
// invariants: determinism, valid states, bounded counters, and that only a
// manual override leaves blacklisted.
func FuzzStep(f *testing.F) {
	f.Add([]byte{1, 6, 6, 6}, uint16(10))
	f.Add([]byte{1, 4, 4, 5, 1, 3, 9, 10, 11, 12, 2}, uint16(30000))
	f.Add([]byte{0, 13, 255, 8, 9}, uint16(1))
	fsm := NewFSM(DefaultConfig())
	f.Fuzz(func(t *testing.T, evs []byte, gap uint16) {
		var a, b PeerState
		now := t0
		for _, e := range evs {
			now = now.Add(time.Duration(gap) * time.Millisecond * 37)
			ev := Event(e % 16)
			from := a.current()
			na, ta := fsm.Step(a, ev, now)
			nb, tb := fsm.Step(b, ev, now)
			if !equalState(na, nb) || (ta == nil) != (tb == nil) || (ta != nil && *ta != *tb) {
				t.Fatal("non-deterministic step")
			}
			if !na.current().Valid() || len(na.Invalid) > maxInvalidTracked {
				t.Fatalf("bad state %+v", na)
			}
			if from == Blacklisted && na.current() != Blacklisted && ev != ManualOverride {
				t.Fatalf("%s left blacklisted", ev)
			}
			if ta != nil && (ta.From != from || ta.To != na.current() || ta.From == ta.To) {
				t.Fatalf("bad transition %+v", ta)
			}
			a, b = na, nb
		}
	})
}
