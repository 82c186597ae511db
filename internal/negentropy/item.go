package negentropy

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"math/bits"
)

// Item is one element of a reconciled set. Items sort by timestamp, then by
// id bytes; the timestamp 2^64-1 is reserved. The id should identify the
// item (as a content hash that covers the timestamp does): within a range
// the protocol compares ids alone, so an id stored under two timestamps on
// either side can be settled as held by both. Ids should also look random:
// a fingerprint is a hash of the sum and count of a range's ids, so two
// ranges of low-entropy ids (counters, say) with equal sums would pass for
// equal.
type Item struct {
	Timestamp uint64
	ID        [IDSize]byte
}

// Compare orders items by timestamp, then lexically by id: -1, 0 or +1.
func (a Item) Compare(b Item) int {
	if c := cmp.Compare(a.Timestamp, b.Timestamp); c != 0 {
		return c
	}
	return bytes.Compare(a.ID[:], b.ID[:])
}

// Fingerprint is the digest of the items of a range (Accumulator.Fingerprint).
type Fingerprint [FingerprintSize]byte

// Accumulator sums ids as 256-bit little-endian integers modulo 2^256; with
// the item count it yields a range's fingerprint. The zero value is the
// empty sum. Because the sum is a group, a store can keep running sums and
// take differences (Sub) instead of rereading a range.
type Accumulator struct {
	w [4]uint64 // little-endian 64-bit limbs
}

// Add adds id to the sum.
func (a *Accumulator) Add(id [IDSize]byte) {
	var c uint64
	for i := range a.w {
		a.w[i], c = bits.Add64(a.w[i], binary.LittleEndian.Uint64(id[8*i:]), c)
	}
}

// Sub subtracts id (or another accumulator's Sum) from the sum.
func (a *Accumulator) Sub(id [IDSize]byte) {
	var b uint64
	for i := range a.w {
		a.w[i], b = bits.Sub64(a.w[i], binary.LittleEndian.Uint64(id[8*i:]), b)
	}
}

// Sum returns the sum as 32 little-endian bytes.
func (a *Accumulator) Sum() [IDSize]byte {
	var s [IDSize]byte
	for i, w := range a.w {
		binary.LittleEndian.PutUint64(s[8*i:], w)
	}
	return s
}

// Fingerprint returns the fingerprint of a range of count items whose ids
// sum to a: the first 16 bytes of SHA-256(sum || varint(count)).
func (a *Accumulator) Fingerprint(count uint64) Fingerprint {
	var buf [IDSize + maxVarintLen]byte
	s := a.Sum()
	in := appendVarint(append(buf[:0], s[:]...), count)
	h := sha256.Sum256(in)
	return Fingerprint(h[:FingerprintSize])
}
