package negentropy

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
)

func mustHexID(t testing.TB, s string) [IDSize]byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != IDSize {
		t.Fatalf("bad id %q", s)
	}
	return [IDSize]byte(b)
}

// Fingerprints computed by the reference js/Negentropy.js (storage
// fingerprint of the whole set); the third case wraps around 2^256 to zero.
func TestFingerprintReference(t *testing.T) {
	for _, tc := range []struct {
		ids  []string
		want string
	}{
		{nil, "7f9c9e31ac8256ca2f258583df262dbc"},
		{[]string{"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"}, "8f04045cb5b643a45a2df62d82153528"},
		{[]string{"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", "0100000000000000000000000000000000000000000000000000000000000000"}, "58cc2f44d3a27866874701fbad573da9"},
		{[]string{"abababababababababababababababababababababababababababababababab", "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd", "7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f"}, "e05523304af3ff22753148f3aee28f4c"},
	} {
		var acc Accumulator
		var v Vector
		for i, s := range tc.ids {
			acc.Add(mustHexID(t, s))
			if err := v.Insert(uint64(i), mustHexID(t, s)); err != nil {
				t.Fatal(err)
			}
		}
		if err := v.Seal(); err != nil {
			t.Fatal(err)
		}
		fp := acc.Fingerprint(uint64(len(tc.ids)))
		if got := hex.EncodeToString(fp[:]); got != tc.want {
			t.Errorf("%d ids: accumulator fingerprint %s, want %s", len(tc.ids), got, tc.want)
		}
		vfp, err := v.Fingerprint(0, v.Size())
		if err != nil || vfp != fp {
			t.Errorf("%d ids: vector fingerprint %x, %v; want %x", len(tc.ids), vfp, err, fp)
		}
	}
}

func leToBig(b [IDSize]byte) *big.Int {
	r := slices.Clone(b[:])
	slices.Reverse(r)
	return new(big.Int).SetBytes(r)
}

// The accumulator is addition and subtraction modulo 2^256 of little-endian
// integers: check it against math/big.
func TestAccumulatorArithmetic(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	mod := new(big.Int).Lsh(big.NewInt(1), 256)
	var acc Accumulator
	want := new(big.Int)
	for i := 0; i < 2000; i++ {
		var id [IDSize]byte
		for j := range id {
			id[j] = byte(r.Uint32())
		}
		if i%7 == 0 { // carries through every limb
			for j := range id {
				id[j] = 0xff
			}
		}
		if r.IntN(3) == 0 {
			acc.Sub(id)
			want.Sub(want, leToBig(id))
		} else {
			acc.Add(id)
			want.Add(want, leToBig(id))
		}
		want.Mod(want, mod)
		if got := leToBig(acc.Sum()); got.Cmp(want) != 0 {
			t.Fatalf("step %d: sum %x, want %x", i, got, want)
		}
	}
}

func TestItemCompare(t *testing.T) {
	a := Item{Timestamp: 1, ID: [IDSize]byte{9}}
	b := Item{Timestamp: 2}
	c := Item{Timestamp: 2, ID: [IDSize]byte{0, 1}}
	if a.Compare(b) != -1 || b.Compare(a) != 1 || b.Compare(c) != -1 || c.Compare(c) != 0 {
		t.Fatal("Compare does not order by timestamp, then id")
	}
}

func TestVectorLifecycle(t *testing.T) {
	var v Vector
	if _, err := v.Fingerprint(0, 0); !errors.Is(err, ErrNotSealed) {
		t.Fatalf("Fingerprint before Seal: %v", err)
	}
	if err := v.Insert(infinityTimestamp, [IDSize]byte{}); !errors.Is(err, ErrReservedTimestamp) {
		t.Fatalf("Insert(2^64-1): %v", err)
	}
	ids := [][IDSize]byte{{3}, {1}, {2}}
	for _, id := range ids {
		if err := v.Insert(5, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Insert(5, [IDSize]byte{1}); err != nil { // same id, same timestamp
		t.Fatal(err)
	}
	if err := v.Seal(); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("Seal with a duplicate: %v", err)
	}

	v = Vector{}
	for i, id := range ids {
		if err := v.Insert(uint64(10-i), id); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Insert(8, [IDSize]byte{3}); err != nil { // same id, other timestamp: a distinct item
		t.Fatal(err)
	}
	if err := v.Seal(); err != nil {
		t.Fatal(err)
	}
	if err := v.Seal(); !errors.Is(err, ErrSealed) {
		t.Fatalf("second Seal: %v", err)
	}
	if err := v.Insert(1, [IDSize]byte{}); !errors.Is(err, ErrSealed) {
		t.Fatalf("Insert after Seal: %v", err)
	}
	var got []Item
	if err := v.Iterate(0, v.Size(), func(_ int, it Item) bool { got = append(got, it); return true }); err != nil {
		t.Fatal(err)
	}
	want := []Item{{8, [IDSize]byte{2}}, {8, [IDSize]byte{3}}, {9, [IDSize]byte{1}}, {10, [IDSize]byte{3}}}
	if !slices.Equal(got, want) {
		t.Fatalf("sorted items %v, want %v", got, want)
	}
	for _, tc := range []struct {
		bound Item
		want  int
	}{
		{Item{}, 0},
		{Item{Timestamp: 8, ID: [IDSize]byte{3}}, 1},
		{Item{Timestamp: 8, ID: [IDSize]byte{3, 1}}, 2},
		{Item{Timestamp: 10}, 3},
		{Item{Timestamp: infinityTimestamp}, 4},
	} {
		if i, err := v.FindLowerBound(0, 4, tc.bound); err != nil || i != tc.want {
			t.Errorf("FindLowerBound(%v) = %d, %v; want %d", tc.bound, i, err, tc.want)
		}
	}
	if i, _ := v.FindLowerBound(2, 3, Item{}); i != 2 {
		t.Errorf("FindLowerBound starts at begin: got %d", i)
	}
	for _, r := range [][2]int{{-1, 0}, {2, 1}, {0, 5}} {
		if err := v.Iterate(r[0], r[1], func(int, Item) bool { return true }); !errors.Is(err, ErrRange) {
			t.Errorf("Iterate%v: %v", r, err)
		}
	}
	// Running sums: every sub-range fingerprint equals a direct sum.
	for b := 0; b <= 4; b++ {
		for e := b; e <= 4; e++ {
			var acc Accumulator
			for _, it := range want[b:e] {
				acc.Add(it.ID)
			}
			fp, err := v.Fingerprint(b, e)
			if wantFP := acc.Fingerprint(uint64(e - b)); err != nil || !bytes.Equal(fp[:], wantFP[:]) {
				t.Errorf("Fingerprint(%d, %d) = %x, %v; want %x", b, e, fp, err, wantFP)
			}
		}
	}
}

func TestAppendVarint(t *testing.T) {
	for _, tc := range []struct {
		n    uint64
		want string
	}{
		{0, "00"}, {1, "01"}, {127, "7f"}, {128, "8100"}, {16383, "ff7f"}, {16384, "818000"},
		{1<<64 - 1, "81ffffffffffffffff7f"},
	} {
		if got := hex.EncodeToString(appendVarint(nil, tc.n)); got != tc.want {
			t.Errorf("varint(%d) = %s, want %s", tc.n, got, tc.want)
		}
	}
}
