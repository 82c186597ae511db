package knowledge

import (
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/trust"
)

var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

func mustID(t testing.TB, domain, statement string) string {
	t.Helper()
	id, err := factID(domain, statement)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func testFact(t testing.TB) Fact {
	return Fact{ID: mustID(t, "physics", "water boils at 100 C at sea level"), Statement: "water boils at 100 C at sea level",
		Domain: "physics", Confidence: 0.9, Proposer: "prop", MsgID: "p-1", ProposedAt: t0, Expires: t0.Add(time.Hour)}
}

// view: t* trusted, p* probing (except "prop", trusted), u* untrusted, b* blacklisted.
func view(fp string) trust.State {
	if fp == "prop" {
		return trust.Trusted
	}
	switch fp[0] {
	case 't':
		return trust.Trusted
	case 'p':
		return trust.Probing
	case 'u':
		return trust.Untrusted
	case 'b':
		return trust.Blacklisted
	}
	return trust.Unknown
}

func vote(f Fact, voter string, k VoteKind, at time.Duration, msg string) Vote {
	return Vote{Voter: voter, FactID: f.ID, Kind: k, MsgID: msg, Time: t0.Add(at), Confidence: 0.8}
}

func TestTallyRules(t *testing.T) {
	f := testFact(t)
	m := time.Minute
	cases := []struct {
		name   string
		fact   func(Fact) Fact
		votes  []Vote
		now    time.Duration
		want   Status
		reason string
	}{
		{"no votes", nil, nil, m, Proposed, ReasonNoVotes},
		{"one trusted confirm", nil, []Vote{vote(f, "t1", Confirm, m, "a")}, m, Pending, ReasonAwaitingQuorum},
		{"two trusted confirms accept", nil, []Vote{vote(f, "t1", Confirm, m, "a"), vote(f, "t2", Confirm, m, "b")}, 2 * m, Accepted, ReasonQuorum},
		{"same voter twice counts once", nil, []Vote{vote(f, "t1", Confirm, m, "a"), vote(f, "t1", Confirm, 2*m, "b")}, 3 * m, Pending, ReasonAwaitingQuorum},
		{"proposer does not count", nil, []Vote{vote(f, "prop", Confirm, m, "a"), vote(f, "t1", Confirm, m, "b")}, 2 * m, Pending, ReasonAwaitingQuorum},
		{"probing votes recorded not counted", nil, []Vote{vote(f, "p1", Confirm, m, "a"), vote(f, "p2", Confirm, m, "b"), vote(f, "t1", Confirm, m, "c")}, 2 * m, Pending, ReasonAwaitingQuorum},
		{"unknown voters not counted", nil, []Vote{vote(f, "x1", Confirm, m, "a"), vote(f, "x2", Confirm, m, "b")}, 2 * m, Proposed, ReasonNoVotes},
		{"trusted challenge disputes", nil, []Vote{vote(f, "t1", Confirm, m, "a"), vote(f, "t2", Confirm, m, "b"), vote(f, "t3", Challenge, m, "c")}, 2 * m, Disputed, ReasonChallenge},
		{"probing challenge does not dispute", nil, []Vote{vote(f, "t1", Confirm, m, "a"), vote(f, "t2", Confirm, m, "b"), vote(f, "p3", Challenge, m, "c")}, 2 * m, Accepted, ReasonQuorum},
		{"trusted reject blocks acceptance", nil, []Vote{vote(f, "t1", Confirm, m, "a"), vote(f, "t2", Confirm, m, "b"), vote(f, "t3", Reject, m, "c")}, 2 * m, Disputed, ReasonDisagreement},
		{"one trusted reject alone pending", nil, []Vote{vote(f, "t3", Reject, m, "c")}, 2 * m, Pending, ReasonAwaitingQuorum},
		{"two trusted rejects reject", nil, []Vote{vote(f, "t1", Reject, m, "a"), vote(f, "t2", Reject, m, "b")}, 2 * m, Rejected, ReasonTrustedRejects},
		{"reject quorum outweighs confirm quorum", nil, []Vote{vote(f, "t1", Reject, m, "a"), vote(f, "t2", Reject, m, "b"), vote(f, "t3", Confirm, m, "c"), vote(f, "t4", Confirm, m, "d")}, 2 * m, Rejected, ReasonTrustedRejects},
		{"latest vote wins: challenge withdrawn", nil, []Vote{vote(f, "t1", Confirm, m, "a"), vote(f, "t2", Challenge, m, "b"), vote(f, "t2", Confirm, 2*m, "c")}, 3 * m, Accepted, ReasonQuorum},
		{"latest vote wins: confirm withdrawn", nil, []Vote{vote(f, "t1", Confirm, m, "a"), vote(f, "t2", Confirm, m, "b"), vote(f, "t2", Challenge, 2*m, "c")}, 3 * m, Disputed, ReasonChallenge},
		{"tie on time broken by msg_id", nil, []Vote{vote(f, "t1", Confirm, m, "a"), vote(f, "t2", Confirm, m, "z"), vote(f, "t2", Challenge, m, "b")}, 2 * m, Accepted, ReasonQuorum},
		{"tie on time and msg_id broken by kind", nil, []Vote{vote(f, "t1", Confirm, m, "a"), vote(f, "t2", Confirm, m, "b"), vote(f, "t2", Challenge, m, "b")}, 2 * m, Disputed, ReasonChallenge},
		{"proposer untrusted rejects", func(f Fact) Fact { f.Proposer = "u1"; return f }, []Vote{vote(f, "t1", Confirm, m, "a"), vote(f, "t2", Confirm, m, "b")}, 2 * m, Rejected, ReasonProposerUntrusted},
		{"proposer blacklisted rejects", func(f Fact) Fact { f.Proposer = "b1"; return f }, nil, m, Rejected, ReasonProposerUntrusted},
		{"probing proposer fine", func(f Fact) Fact { f.Proposer = "p9"; return f }, []Vote{vote(f, "t1", Confirm, m, "a"), vote(f, "t2", Confirm, m, "b")}, 2 * m, Accepted, ReasonQuorum},
		{"expiry without quorum rejects", nil, []Vote{vote(f, "t1", Confirm, m, "a")}, time.Hour, Rejected, ReasonExpired},
		{"disputed then expired rejects", nil, []Vote{vote(f, "t1", Challenge, m, "a")}, 2 * time.Hour, Rejected, ReasonExpired},
		{"accepted stays accepted after expiry", nil, []Vote{vote(f, "t1", Confirm, m, "a"), vote(f, "t2", Confirm, m, "b")}, 2 * time.Hour, Accepted, ReasonQuorum},
		{"late votes ignored", nil, []Vote{vote(f, "t1", Confirm, m, "a"), vote(f, "t2", Confirm, time.Hour+time.Second, "b")}, 2 * time.Hour, Rejected, ReasonExpired},
		{"late withdrawal ignored", nil, []Vote{vote(f, "t1", Confirm, m, "a"), vote(f, "t2", Confirm, m, "b"), vote(f, "t2", Challenge, 2*time.Hour, "c")}, 3 * time.Hour, Accepted, ReasonQuorum},
		{"no expiry never expires", func(f Fact) Fact { f.Expires = time.Time{}; return f }, nil, 1000 * time.Hour, Proposed, ReasonNoVotes},
		{"votes for other facts ignored", nil, []Vote{vote(f, "t1", Confirm, m, "a"), {Voter: "t2", FactID: "other", Kind: Confirm, MsgID: "b", Time: t0}}, 2 * m, Pending, ReasonAwaitingQuorum},
		{"invalid kind ignored", nil, []Vote{vote(f, "t1", Confirm, m, "a"), vote(f, "t2", VoteKind(9), m, "b")}, 2 * m, Pending, ReasonAwaitingQuorum},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fact := f
			if c.fact != nil {
				fact = c.fact(f)
			}
			res := DefaultRules().Tally(fact, c.votes, view, t0.Add(c.now))
			if res.Status != c.want || res.Reason != c.reason {
				t.Fatalf("got %s (%s), want %s (%s); %+v", res.Status, res.Reason, c.want, c.reason, res)
			}
			if got := Evaluate(fact, c.votes, view, t0.Add(c.now)); got != c.want {
				t.Fatalf("Evaluate %s", got)
			}
		})
	}
}

func TestTallyCountsAndQuorumConfig(t *testing.T) {
	f := testFact(t)
	votes := []Vote{vote(f, "t1", Confirm, 0, "a"), vote(f, "t2", Confirm, 0, "b"), vote(f, "p1", Reject, 0, "c"), vote(f, "t3", Confirm, 0, "d")}
	res := Rules{Quorum: 3}.Tally(f, votes, view, t0)
	if res.Status != Accepted || !reflect.DeepEqual(res.Confirmers, []string{"t1", "t2", "t3"}) || res.Uncounted != 1 {
		t.Fatalf("quorum 3: %+v", res)
	}
	if res := (Rules{Quorum: 4}).Tally(f, votes, view, t0); res.Status != Pending {
		t.Fatalf("quorum 4: %+v", res)
	}
	if res := (Rules{}).Tally(f, votes[:2], view, t0); res.Status != Accepted {
		t.Fatalf("zero rules default to quorum 2: %+v", res)
	}
	if res := DefaultRules().Tally(f, votes, nil, t0); res.Status != Proposed || res.Uncounted != 4 {
		t.Fatalf("nil view counts nothing: %+v", res)
	}
}

// randomVotes draws n votes over a few voters of every trust state, with
// colliding times and msg_ids so the tie rules are exercised.
func randomVotes(r *rand.Rand, f Fact, n int) []Vote {
	voters := []string{"t1", "t2", "t3", "t4", "p1", "p2", "u1", "x1", "prop"}
	out := make([]Vote, n)
	for i := range out {
		out[i] = Vote{
			Voter:  voters[r.Intn(len(voters))],
			FactID: f.ID,
			Kind:   VoteKind(1 + r.Intn(3)),
			MsgID:  fmt.Sprintf("m%d", r.Intn(4)),
			Time:   t0.Add(time.Duration(r.Intn(5)) * 20 * time.Minute), // some after expiry
		}
	}
	return out
}

func permutations(vs []Vote, fn func([]Vote)) {
	var rec func(k int)
	rec = func(k int) {
		if k == len(vs) {
			fn(vs)
			return
		}
		for i := k; i < len(vs); i++ {
			vs[k], vs[i] = vs[i], vs[k]
			rec(k + 1)
			vs[k], vs[i] = vs[i], vs[k]
		}
	}
	rec(0)
}

// TestTallyOrderIndependent is the property of SPEC §8: for random vote
// sets, every delivery order (all permutations up to 6 votes, many random
// ones beyond) and duplicated delivery give the same result.
func TestTallyOrderIndependent(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	f := testFact(t)
	statuses := map[Status]int{}
	for trial := 0; trial < 300; trial++ {
		n := 1 + r.Intn(6)
		if trial%3 == 0 {
			n = 7 + r.Intn(30)
		}
		votes := randomVotes(r, f, n)
		now := t0.Add(time.Duration(r.Intn(90)) * time.Minute)
		want := DefaultRules().Tally(f, votes, view, now)
		statuses[want.Status]++
		check := func(vs []Vote) {
			if got := DefaultRules().Tally(f, vs, view, now); !reflect.DeepEqual(got, want) {
				t.Fatalf("order changed the result:\n%+v\n%+v\nvotes %+v", got, want, vs)
			}
		}
		if n <= 6 {
			permutations(append([]Vote(nil), votes...), check)
		} else {
			for p := 0; p < 200; p++ {
				vs := append([]Vote(nil), votes...)
				r.Shuffle(len(vs), func(i, j int) { vs[i], vs[j] = vs[j], vs[i] })
				check(vs)
			}
		}
		check(append(append([]Vote(nil), votes...), votes...)) // duplicated delivery
	}
	// The property is only meaningful if the random sets reach every status.
	for s := Proposed; s <= Rejected; s++ {
		if statuses[s] == 0 {
			t.Errorf("no random trial reached %s: %v", s, statuses)
		}
	}
}

func FuzzTallyOrder(f *testing.F) {
	f.Add([]byte{0, 1, 1, 1, 2, 1, 3, 2, 2}, int64(7))
	f.Add([]byte{5, 3, 0, 5, 3, 1, 4, 1, 2, 6, 2, 3}, int64(42))
	fact := testFact(f)
	f.Fuzz(func(t *testing.T, data []byte, seed int64) {
		voters := []string{"t1", "t2", "t3", "p1", "u1", "prop", "x"}
		var votes []Vote
		for i := 0; i+2 < len(data) && len(votes) < 64; i += 3 {
			votes = append(votes, Vote{Voter: voters[int(data[i])%len(voters)], FactID: fact.ID,
				Kind: VoteKind(data[i+1] % 4), MsgID: fmt.Sprint(data[i+2] % 3),
				Time: t0.Add(time.Duration(data[i+2]%5) * 20 * time.Minute)})
		}
		now := t0.Add(time.Duration(seed%120) * time.Minute)
		want := DefaultRules().Tally(fact, votes, view, now)
		if !want.Status.Valid() {
			t.Fatalf("invalid status %d", want.Status)
		}
		r := rand.New(rand.NewSource(seed))
		for p := 0; p < 8; p++ {
			vs := append([]Vote(nil), votes...)
			r.Shuffle(len(vs), func(i, j int) { vs[i], vs[j] = vs[j], vs[i] })
			if got := DefaultRules().Tally(fact, vs, view, now); !reflect.DeepEqual(got, want) {
				t.Fatalf("order changed the result: %+v vs %+v", got, want)
			}
		}
	})
}

// TestFactIDIsEnvelopes checks that knowledge names facts exactly as
// envelope.FactID does and reports its refusals as ErrInvalidFact. The
// id's definition and its own tests live in protocols/envelope; lip's
// TestFactIDAgrees checks the two packages against each other.
func TestFactIDIsEnvelopes(t *testing.T) {
	// sha256 of the bytes {"domain":"d","statement":"s"}, computed independently.
	if id := mustID(t, "d", "s"); id != "6efabae93989f9b08e53a4a21da0325d22763b7ea7c00541dc7c7f312bd8e4f9" {
		t.Fatalf("id %s", id)
	}
	for _, c := range [][2]string{{"d", "\xff"}, {"\xfe", "s"}, {"", "s"}, {"d", ""}} {
		_, err := factID(c[0], c[1])
		if !errors.Is(err, ErrInvalidFact) || !errors.Is(err, envelope.ErrFactID) {
			t.Fatalf("factID(%q,%q) error %v, want ErrInvalidFact and envelope.ErrFactID", c[0], c[1], err)
		}
		f := Fact{Domain: c[0], Statement: c[1], Confidence: 0.5, Proposer: "prop", ProposedAt: t0}
		if err := f.Validate(); !errors.Is(err, ErrInvalidFact) {
			t.Fatalf("Validate(%q,%q) = %v, want ErrInvalidFact", c[0], c[1], err)
		}
	}
}

func FuzzValidate(f *testing.F) {
	f.Add("physics", "water boils", 0.5, "prop", "m1", "confirm")
	f.Add("", "", -1.0, "", "", "nope")
	f.Fuzz(func(t *testing.T, domain, statement string, conf float64, who, msg, kind string) {
		fact := Fact{Domain: domain, Statement: statement, Confidence: conf, Proposer: who, MsgID: msg, ProposedAt: t0}
		if err := fact.Validate(); err == nil {
			if _, err := factID(domain, statement); err != nil || conf < 0 || conf > 1 || statement == "" {
				t.Fatalf("accepted bad fact %+v", fact)
			}
		}
		k, _ := ParseVoteKind(kind)
		v := Vote{Voter: who, FactID: mustID(t, "d", "s"), Kind: k, MsgID: msg, Time: t0, Confidence: conf}
		if err := v.Validate(); err == nil && (!k.Valid() || who == "" || msg == "") {
			t.Fatalf("accepted bad vote %+v", v)
		}
	})
}

func TestEnumsAndValidation(t *testing.T) {
	for s := Proposed; s <= Rejected; s++ {
		if got, err := ParseStatus(s.String()); err != nil || got != s {
			t.Fatal(s)
		}
	}
	for k := Confirm; k <= Challenge; k++ {
		if got, err := ParseVoteKind(k.String()); err != nil || got != k {
			t.Fatal(k)
		}
	}
	if Status(0).Valid() || VoteKind(0).Valid() {
		t.Fatal("zero enums valid")
	}
	f := testFact(t)
	bad := map[string]func(*Fact){
		"statement":  func(f *Fact) { f.Statement = "" },
		"long":       func(f *Fact) { f.Statement = string(make([]byte, MaxStatementBytes+1)) },
		"domain":     func(f *Fact) { f.Domain = "" },
		"confidence": func(f *Fact) { f.Confidence = 1.5 },
		"proposer":   func(f *Fact) { f.Proposer = "" },
		"time":       func(f *Fact) { f.ProposedAt = time.Time{} },
		"expiry":     func(f *Fact) { f.Expires = t0.Add(-time.Second) },
		"id":         func(f *Fact) { f.ID = mustID(t, "x", "y") },
	}
	for name, mut := range bad {
		g := f
		mut(&g)
		if err := g.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
}
