package negentropy

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// set is a test item set with the ids a peer would learn about.
type set []Item

func (s set) vector(t testing.TB) *Vector {
	t.Helper()
	var v Vector
	for _, it := range s {
		if err := v.Insert(it.Timestamp, it.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Seal(); err != nil {
		t.Fatal(err)
	}
	return &v
}

// minus returns the sorted ids of the items of a that are not in b.
func (a set) minus(b set) [][IDSize]byte {
	in := make(map[Item]bool, len(b))
	for _, it := range b {
		in[it] = true
	}
	var out [][IDSize]byte
	for _, it := range a {
		if !in[it] {
			out = append(out, it.ID)
		}
	}
	return sortedIDs(out)
}

func sortedIDs(ids [][IDSize]byte) [][IDSize]byte {
	ids = slices.Clone(ids)
	slices.SortFunc(ids, func(a, b [IDSize]byte) int { return bytes.Compare(a[:], b[:]) })
	return ids
}

// genSets builds a client and a server set: n items, each only in the
// client with probability p1, only in the server with p2, else in both,
// with timestamps drawn from [ts0, ts0+spread) (spread 0: all equal). It
// mirrors the reference's test/fuzz.pl.
func genSets(r *rand.Rand, n int, p1, p2 float64, ts0, spread uint64) (client, server set) {
	for i := 0; i < n; i++ {
		it := Item{Timestamp: ts0}
		if spread > 0 {
			it.Timestamp += r.Uint64N(spread)
		}
		for j := 0; j < IDSize; j += 8 {
			v := r.Uint64()
			for k := 0; k < 8; k++ {
				it.ID[j+k] = byte(v >> (8 * k))
			}
		}
		switch x := r.Float64(); {
		case x < p1:
			client = append(client, it)
		case x < p1+p2:
			server = append(server, it)
		default:
			client = append(client, it)
			server = append(server, it)
		}
	}
	return client, server
}

// transcript is what a reconciliation exchanged.
type transcript struct {
	msgs       [][]byte // client, server, client, ... messages
	have, need [][IDSize]byte
	bytes      int
	rounds     int // round trips (server answers)
}

// maxRounds bounds a test reconciliation so a protocol bug fails instead of
// looping: far above the ~log16(n) + frames rounds a real one takes.
const maxRounds = 1000

// reconcileGo runs a Go client against a Go server to completion.
func reconcileGo(t testing.TB, client, server Storage, clientLimit, serverLimit int) transcript {
	t.Helper()
	c, err := New(client, clientLimit)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(server, serverLimit)
	if err != nil {
		t.Fatal(err)
	}
	var tr transcript
	msg, err := c.Initiate()
	if err != nil {
		t.Fatal(err)
	}
	for msg != nil {
		tr.msgs = append(tr.msgs, msg)
		tr.bytes += len(msg)
		if clientLimit != 0 && len(msg) > clientLimit {
			t.Fatalf("round %d: client message of %d bytes exceeds its limit %d", tr.rounds, len(msg), clientLimit)
		}
		answer, err := s.Reconcile(msg)
		if err != nil {
			t.Fatalf("round %d: server: %v", tr.rounds, err)
		}
		if serverLimit != 0 && len(answer) > serverLimit {
			t.Fatalf("round %d: server message of %d bytes exceeds its limit %d", tr.rounds, len(answer), serverLimit)
		}
		tr.msgs = append(tr.msgs, answer)
		tr.bytes += len(answer)
		tr.rounds++
		if tr.rounds > maxRounds {
			t.Fatalf("no convergence after %d rounds", tr.rounds)
		}
		var have, need [][IDSize]byte
		msg, have, need, err = c.ReconcileClient(answer)
		if err != nil {
			t.Fatalf("round %d: client: %v", tr.rounds, err)
		}
		tr.have = append(tr.have, have...)
		tr.need = append(tr.need, need...)
	}
	return tr
}

// checkDiff checks that the client learnt exactly the symmetric difference.
// Like the reference, a client may learn an id twice when its own frame was
// cut short (the closing fingerprint range then covers ranges it had
// already settled), so the comparison is of sets.
func checkDiff(t testing.TB, tr transcript, client, server set) {
	t.Helper()
	if got, want := slices.Compact(sortedIDs(tr.have)), slices.Compact(client.minus(server)); !slices.Equal(got, want) {
		t.Errorf("have: %d distinct ids, want %d", len(got), len(want))
	}
	if got, want := slices.Compact(sortedIDs(tr.need)), slices.Compact(server.minus(client)); !slices.Equal(got, want) {
		t.Errorf("need: %d distinct ids, want %d", len(got), len(want))
	}
}

// edgeSets are the shapes the Go-to-Go, reference and vector tests share.
func edgeSets(t testing.TB) []struct {
	name           string
	client, server set
} {
	r := rand.New(rand.NewPCG(7, 7))
	type c = struct {
		name           string
		client, server set
	}
	var out []c
	add := func(name string, client, server set) { out = append(out, c{name, client, server}) }

	add("empty", nil, nil)
	a, _ := genSets(r, 300, 0, 0, 1677970534, 300)
	add("equal", a, a)
	a, b := genSets(r, 400, 0.5, 0.5, 1677970534, 400)
	add("disjoint", a, b)
	a, _ = genSets(r, 200, 0, 0, 1677970534, 200)
	add("client-empty", nil, a)
	add("server-empty", a, nil)
	a, b = genSets(r, 3000, 0.05, 0.05, 1677970534, 3000)
	add("random-5pct", a, b)
	a, b = genSets(r, 2000, 0.02, 0.02, 1677970534, 0)
	add("one-timestamp", a, b)
	a, b = genSets(r, 2000, 0.02, 0.02, 1677970534, 20)
	add("duplicate-timestamps", a, b)
	// Ids sharing up to 31 leading bytes under one timestamp: bounds carry
	// long id prefixes.
	var p1, p2 set
	for i := 0; i < 600; i++ {
		it := Item{Timestamp: 5}
		it.ID[31] = byte(i)
		it.ID[30] = byte(i >> 8)
		it.ID[0] = byte(i % 3)
		switch {
		case i%17 == 0:
			p1 = append(p1, it)
		case i%19 == 0:
			p2 = append(p2, it)
		default:
			p1 = append(p1, it)
			p2 = append(p2, it)
		}
	}
	add("shared-prefixes", p1, p2)
	// The smallest item, (0, all zero), equals the first range's lower
	// bound; a few items right below infinity for the Go-only runs.
	a, b = genSets(r, 100, 0.1, 0.1, 0, 3)
	a = append(a, Item{})
	add("zero-item", a, b)
	return out
}

func TestReconcileEdgeCases(t *testing.T) {
	for _, tc := range edgeSets(t) {
		for _, limits := range [][2]int{{0, 0}, {4096, 4096}, {4096, 0}, {0, 4096}} {
			t.Run(fmt.Sprintf("%s/limits=%d,%d", tc.name, limits[0], limits[1]), func(t *testing.T) {
				tr := reconcileGo(t, tc.client.vector(t), tc.server.vector(t), limits[0], limits[1])
				checkDiff(t, tr, tc.client, tc.server)
			})
		}
	}
}

// Timestamps near the top of the range, which the JS reference cannot
// represent: offsets up to 2^64-2 and the largest item timestamp.
func TestReconcileLargeTimestamps(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	a, b := genSets(r, 2000, 0.03, 0.03, 0, infinityTimestamp)
	x, y := genSets(r, 300, 0.1, 0.1, infinityTimestamp-40, 40)
	a, b = append(a, x...), append(b, y...)
	a = append(a, Item{Timestamp: 0, ID: [IDSize]byte{1}})
	b = append(b, Item{Timestamp: infinityTimestamp - 1, ID: [IDSize]byte{0xff}})
	for _, limit := range []int{0, 4096} {
		tr := reconcileGo(t, a.vector(t), b.vector(t), limit, limit)
		checkDiff(t, tr, a, b)
	}
}

func TestReconcileRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for i := 0; i < 40; i++ {
		n := 1 + r.IntN(5000)
		p1, p2 := r.Float64()*0.3, r.Float64()*0.3
		client, server := genSets(r, n, p1, p2, uint64(r.IntN(1000)), uint64(r.IntN(2*n)))
		limits := [2]int{[]int{0, 4096, 6000}[r.IntN(3)], []int{0, 4096, 10000}[r.IntN(3)]}
		t.Run(fmt.Sprintf("%d/n=%d/limits=%v", i, n, limits), func(t *testing.T) {
			tr := reconcileGo(t, client.vector(t), server.vector(t), limits[0], limits[1])
			checkDiff(t, tr, client, server)
		})
	}
}

// An id held under two timestamps is two items of the storage; where the
// ranges keep them apart, both are reconciled.
func TestReconcileSameIDTwoTimestamps(t *testing.T) {
	id := [IDSize]byte{0xaa}
	client := set{{Timestamp: 1, ID: id}, {Timestamp: 2, ID: id}, {Timestamp: 3, ID: [IDSize]byte{1}}}
	server := set{{Timestamp: 2, ID: id}, {Timestamp: 4, ID: [IDSize]byte{2}}}
	tr := reconcileGo(t, client.vector(t), server.vector(t), 0, 0)
	if got := sortedIDs(tr.have); !slices.Equal(got, [][IDSize]byte{{1}, id}) {
		t.Errorf("have %x", got)
	}
	if got := sortedIDs(tr.need); !slices.Equal(got, [][IDSize]byte{{2}}) {
		t.Errorf("need %x", got)
	}
}

func TestRoles(t *testing.T) {
	v := set{{Timestamp: 12345, ID: [IDSize]byte{0xee}}}.vector(t)
	if _, err := New(v, 4095); !errors.Is(err, ErrFrameSizeLimit) {
		t.Errorf("New(4095): %v", err)
	}
	if _, err := New(v, -1); !errors.Is(err, ErrFrameSizeLimit) {
		t.Errorf("New(-1): %v", err)
	}
	if _, err := New(nil, 0); err == nil {
		t.Error("New(nil storage) succeeded")
	}
	c, _ := New(v, 0)
	if _, _, _, err := c.ReconcileClient([]byte{ProtocolVersion}); !errors.Is(err, ErrRole) {
		t.Errorf("ReconcileClient before Initiate: %v", err)
	}
	if _, err := c.Initiate(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Initiate(); !errors.Is(err, ErrRole) {
		t.Errorf("second Initiate: %v", err)
	}
	if _, err := c.Reconcile([]byte{ProtocolVersion}); !errors.Is(err, ErrRole) {
		t.Errorf("Reconcile on the client: %v", err)
	}
	s, _ := New(v, 0)
	if _, err := s.Reconcile([]byte{ProtocolVersion}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Initiate(); !errors.Is(err, ErrRole) {
		t.Errorf("Initiate on a server: %v", err)
	}
}

// The reference's test/protoversion.pl: a server answers an unknown
// version with its own (0x61), then serves the version-1 retry; a client
// refuses an answer in another version.
func TestProtocolVersionFallback(t *testing.T) {
	v := set{{Timestamp: 12345, ID: [IDSize]byte{0xee}}}.vector(t)
	s, _ := New(v, 0)
	got, err := s.Reconcile(unhex(t, "62aabbccddeeff"))
	if err != nil || !bytes.Equal(got, []byte{0x61}) {
		t.Fatalf("answer to version 2: %x, %v; want 61", got, err)
	}
	fresh, _ := New(v, 0)
	want, _ := fresh.Reconcile(unhex(t, "6100000200"))
	if got, err := s.Reconcile(unhex(t, "6100000200")); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("retry in version 1: %x, %v; want %x", got, err, want)
	}
	c, _ := New(v, 0)
	if _, err := c.Initiate(); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := c.ReconcileClient([]byte{0x62}); !errors.Is(err, ErrVersion) || !errors.Is(err, ErrMalformed) {
		t.Fatalf("client given version 2: %v", err)
	}
	if _, err := s.Reconcile([]byte{0x10}); !errors.Is(err, ErrVersion) {
		t.Fatalf("server given a non-version byte: %v", err)
	}
}

// A malformed message changes nothing: the same session then reconciles
// normally.
func TestMalformedLeavesSessionUsable(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	a, b := genSets(r, 500, 0.1, 0.1, 100, 500)
	c, _ := New(a.vector(t), 0)
	s, _ := New(b.vector(t), 0)
	msg, _ := c.Initiate()
	if _, err := s.Reconcile(msg[:len(msg)-1]); !errors.Is(err, ErrTruncated) {
		t.Fatalf("truncated message: %v", err)
	}
	var have, need [][IDSize]byte
	for msg != nil {
		answer, err := s.Reconcile(msg)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := c.ReconcileClient(answer[:len(answer)-1]); err == nil && len(answer) > 1 {
			t.Fatal("truncated answer accepted")
		}
		var h, n [][IDSize]byte
		if msg, h, n, err = c.ReconcileClient(answer); err != nil {
			t.Fatal(err)
		}
		have, need = append(have, h...), append(need, n...)
	}
	checkDiff(t, transcript{have: have, need: need}, a, b)
}
