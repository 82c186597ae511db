package negentropy

import (
	"fmt"
	"math"
)

// Wire format (docs/negentropy-protocol-v1.md):
//
//	Message := version:byte Range*
//	Range   := upperBound:Bound mode:Varint payload
//	Bound   := encodedTimestamp:Varint length:Varint idPrefix:byte{length}
//	payload := (Skip) | fingerprint:byte{16} | count:Varint id:byte{32}*count
//
// A bound's timestamp is 0 for infinity, else 1 + the offset from the
// previous bound's timestamp in the same message. Ranges are adjacent and
// ascending; the first starts at (0, no id) and an implicit Skip range
// covers whatever follows the last.

// mode is a range's payload type.
type mode uint64

const (
	modeSkip        mode = 0
	modeFingerprint mode = 1
	modeIDList      mode = 2
)

// bound is a range's exclusive upper bound as on the wire: item holds the
// timestamp and the first prefixLen bytes of the id, the rest zero, and
// compares with items as such.
type bound struct {
	item      Item
	prefixLen int
}

var infinity = bound{item: Item{Timestamp: infinityTimestamp}}

// appendVarint appends n as a protocol varint: base-128 digits, most
// significant first, the high bit set on all but the last, as few digits as
// possible.
func appendVarint(dst []byte, n uint64) []byte {
	var tmp [maxVarintLen]byte
	i := len(tmp) - 1
	tmp[i] = byte(n & 0x7f)
	for n >>= 7; n != 0; n >>= 7 {
		i--
		tmp[i] = byte(n&0x7f) | 0x80
	}
	return append(dst, tmp[i:]...)
}

// encoder carries the timestamp state of one outgoing message.
type encoder struct {
	last uint64
}

// appendBound appends b, its timestamp relative to the previous bound the
// encoder wrote. Bounds must be written in ascending order.
func (e *encoder) appendBound(dst []byte, b bound) []byte {
	if b.item.Timestamp == infinityTimestamp {
		e.last = infinityTimestamp
		dst = append(dst, 0)
	} else {
		dst = appendVarint(dst, b.item.Timestamp-e.last+1)
		e.last = b.item.Timestamp
	}
	dst = appendVarint(dst, uint64(b.prefixLen))
	return append(dst, b.item.ID[:b.prefixLen]...)
}

// span is one decoded range. fingerprint and ids alias the message.
type span struct {
	upper       bound
	mode        mode
	fingerprint []byte // FingerprintSize bytes, for modeFingerprint
	ids         []byte // a multiple of IDSize bytes, for modeIDList
}

// decoder reads one incoming message strictly: every field must be
// complete and canonical, bounds must ascend, and counts must fit the bytes
// left. It allocates nothing.
type decoder struct {
	msg  []byte
	off  int
	n    int    // index of the range being decoded, for errors
	last uint64 // timestamp of the previous bound
	prev Item   // previous bound, for the order check
}

func (d *decoder) fail(kind error, off int, format string, args ...any) error {
	return &DecodeError{Kind: kind, Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// version reads the protocol version byte.
func (d *decoder) version() (byte, error) {
	if len(d.msg) == 0 {
		return 0, d.fail(ErrTruncated, 0, "empty message, want a protocol version byte")
	}
	v := d.msg[0]
	if v < minVersionByte || v > maxVersionByte {
		return 0, d.fail(ErrVersion, 0, "first byte 0x%02x is not a protocol version (0x60..0x6f)", v)
	}
	d.off = 1
	return v, nil
}

func (d *decoder) varint(what string) (uint64, error) {
	start := d.off
	var n uint64
	for {
		if d.off == len(d.msg) {
			return 0, d.fail(ErrTruncated, start, "range %d %s: varint ends after %d bytes", d.n, what, d.off-start)
		}
		b := d.msg[d.off]
		d.off++
		if d.off-1 == start && b == 0x80 {
			return 0, d.fail(ErrVarint, start, "range %d %s: leading zero digit", d.n, what)
		}
		if n > math.MaxUint64>>7 {
			return 0, d.fail(ErrVarint, start, "range %d %s: exceeds 64 bits", d.n, what)
		}
		n = n<<7 | uint64(b&0x7f)
		if b&0x80 == 0 {
			return n, nil
		}
	}
}

func (d *decoder) bytes(n int, what string) ([]byte, error) {
	if len(d.msg)-d.off < n {
		return nil, d.fail(ErrTruncated, d.off, "range %d %s: %d bytes, %d left", d.n, what, n, len(d.msg)-d.off)
	}
	b := d.msg[d.off : d.off+n]
	d.off += n
	return b, nil
}

func (d *decoder) bound() (bound, error) {
	start := d.off
	enc, err := d.varint("bound timestamp")
	if err != nil {
		return bound{}, err
	}
	var b bound
	switch {
	case enc == 0:
		b.item.Timestamp = infinityTimestamp
	case d.last == infinityTimestamp:
		return bound{}, d.fail(ErrOrder, start, "range %d bound: finite timestamp after infinity", d.n)
	default:
		ts := d.last + (enc - 1)
		if ts < d.last || ts == infinityTimestamp {
			return bound{}, d.fail(ErrBound, start, "range %d bound: timestamp %d + offset %d reaches 2^64-1 (infinity is encoded as 0)", d.n, d.last, enc-1)
		}
		b.item.Timestamp = ts
	}
	lenOff := d.off
	plen, err := d.varint("bound id prefix length")
	if err != nil {
		return bound{}, err
	}
	if plen > IDSize {
		return bound{}, d.fail(ErrBound, lenOff, "range %d bound: id prefix length %d exceeds %d", d.n, plen, IDSize)
	}
	prefix, err := d.bytes(int(plen), "bound id prefix")
	if err != nil {
		return bound{}, err
	}
	b.prefixLen = copy(b.item.ID[:], prefix)
	if b.item.Compare(d.prev) < 0 {
		return bound{}, d.fail(ErrOrder, start, "range %d bound (%d, %x) is below the previous bound (%d, %x)",
			d.n, b.item.Timestamp, prefix, d.prev.Timestamp, d.prev.ID[:])
	}
	d.last = b.item.Timestamp
	d.prev = b.item
	return b, nil
}

// next decodes the next range; ok is false at the end of the message.
func (d *decoder) next() (s span, ok bool, err error) {
	if d.off == len(d.msg) {
		return span{}, false, nil
	}
	if s.upper, err = d.bound(); err != nil {
		return span{}, false, err
	}
	modeOff := d.off
	m, err := d.varint("mode")
	if err != nil {
		return span{}, false, err
	}
	s.mode = mode(m)
	switch s.mode {
	case modeSkip:
	case modeFingerprint:
		if s.fingerprint, err = d.bytes(FingerprintSize, "fingerprint"); err != nil {
			return span{}, false, err
		}
	case modeIDList:
		countOff := d.off
		count, err := d.varint("id count")
		if err != nil {
			return span{}, false, err
		}
		if left := len(d.msg) - d.off; count > uint64(left/IDSize) {
			return span{}, false, d.fail(ErrCount, countOff, "range %d: id list claims %d ids, %d bytes left", d.n, count, left)
		}
		s.ids, _ = d.bytes(int(count)*IDSize, "ids")
	default:
		return span{}, false, d.fail(ErrMode, modeOff, "range %d: mode %d", d.n, m)
	}
	d.n++
	return s, true, nil
}

// validate decodes the rest of the message, keeping nothing.
func (d decoder) validate() error {
	for {
		_, ok, err := d.next()
		if err != nil || !ok {
			return err
		}
	}
}
