package negentropy

import (
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// Every malformed message fails with the expected kind at the offset of the
// offending field, and is also ErrMalformed.
func TestDecodeRejects(t *testing.T) {
	fp := strings.Repeat("ab", FingerprintSize)
	id := strings.Repeat("cd", IDSize)
	for _, tc := range []struct {
		name string
		msg  string
		kind error
		off  int
	}{
		{"empty", "", ErrTruncated, 0},
		{"not a version byte", "00", ErrVersion, 0},
		{"not a version byte high", "70", ErrVersion, 0},
		{"timestamp varint truncated", "61 81", ErrTruncated, 1},
		{"leading zero digit", "61 8001 00 00", ErrVarint, 1},
		{"varint over 64 bits", "61 82808080808080808000 00 00", ErrVarint, 1},
		{"prefix length missing", "61 05", ErrTruncated, 2},
		{"prefix too long", "61 05 21" + strings.Repeat("00", 33) + "00", ErrBound, 2},
		{"prefix truncated", "61 05 03 aabb", ErrTruncated, 3},
		{"mode missing", "61 05 00", ErrTruncated, 3},
		{"mode unknown", "61 05 00 03", ErrMode, 3},
		{"fingerprint truncated", "61 00 00 01" + fp[:30], ErrTruncated, 4},
		{"count truncated", "61 00 00 02", ErrTruncated, 4},
		{"count beyond message", "61 00 00 02 02" + id, ErrCount, 4},
		{"huge count", "61 00 00 02 81ffffffffffffffff7f", ErrCount, 4},
		{"id truncated", "61 00 00 02 01" + id[:62], ErrCount, 4},
		{"bound below previous (id)", "61 05 01 bb 00 01 01 aa 00", ErrOrder, 5},
		{"finite after infinity", "61 00 00 00 01 00 00", ErrOrder, 4},
		{"timestamp reaches infinity", "61 02 00 00 81ffffffffffffffff7f 00 00", ErrBound, 4},
		{"timestamp overflows", "61 ffffffff0f 00 00 81ffffffffffffffff7f 00 00", ErrBound, 8},
		{"second range broken", "61 05 00 01" + fp + " 06 00 09", ErrMode, 22},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := decoder{msg: unhex(t, tc.msg)}
			_, err := d.version()
			if err == nil {
				err = d.validate()
			}
			var de *DecodeError
			if !errors.As(err, &de) || !errors.Is(err, tc.kind) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, want a *DecodeError of kind %v", err, tc.kind)
			}
			if de.Offset != tc.off {
				t.Errorf("offset %d, want %d (%v)", de.Offset, tc.off, err)
			}
		})
	}
}

func TestDecodeAccepts(t *testing.T) {
	fp := strings.Repeat("ab", FingerprintSize)
	for _, msg := range []string{
		"61",                          // no ranges: everything skipped
		"62aabbccddeeff",              // another version: not decoded further
		"61 00 00 02 00",              // full range, empty id list
		"61 05 00 00 05 00 00",        // equal bounds: an empty range
		"61 00 00 01" + fp + "000000", // two infinity bounds, as a truncated reference answer may send
		"61 05 20" + strings.Repeat("00", 32) + "00", // 32-byte prefix
		"61 81feffffffffffffff7f 00 00",              // timestamp 2^64-2, the largest item timestamp
	} {
		d := decoder{msg: unhex(t, msg)}
		if _, err := d.version(); err != nil {
			t.Errorf("%s: %v", msg, err)
			continue
		}
		if d.msg[0] != ProtocolVersion {
			continue
		}
		if err := d.validate(); err != nil {
			t.Errorf("%s: %v", msg, err)
		}
	}
}

// What the encoder writes the decoder reads back unchanged.
func TestBoundRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for round := 0; round < 200; round++ {
		var bounds []bound
		var ts uint64
		for i := 0; i < 1+r.IntN(40); i++ {
			switch r.IntN(4) {
			case 0: // same timestamp
			case 1:
				ts += uint64(r.IntN(3))
			default:
				ts += r.Uint64N(1 << uint(1+r.IntN(62)))
			}
			if ts >= infinityTimestamp-1 {
				break
			}
			b := bound{item: Item{Timestamp: ts}, prefixLen: r.IntN(IDSize + 1)}
			for j := 0; j < b.prefixLen; j++ {
				b.item.ID[j] = byte(r.Uint32())
			}
			if len(bounds) > 0 && b.item.Compare(bounds[len(bounds)-1].item) < 0 {
				b = bounds[len(bounds)-1]
			}
			bounds = append(bounds, b)
		}
		if r.IntN(2) == 0 {
			bounds = append(bounds, infinity)
		}
		var e encoder
		msg := []byte{ProtocolVersion}
		for _, b := range bounds {
			msg = appendVarint(e.appendBound(msg, b), uint64(modeSkip))
		}
		d := decoder{msg: msg}
		if _, err := d.version(); err != nil {
			t.Fatal(err)
		}
		for i, want := range bounds {
			s, ok, err := d.next()
			if err != nil || !ok || s.upper != want || s.mode != modeSkip {
				t.Fatalf("round %d bound %d: got %+v %v %v, want %+v", round, i, s.upper, ok, err, want)
			}
		}
		if _, ok, err := d.next(); ok || err != nil {
			t.Fatalf("round %d: trailing range or error %v", round, err)
		}
	}
}
