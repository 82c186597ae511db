package negentropy

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
