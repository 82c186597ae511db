package negentropy

import (
	"bytes"
	"errors"
	"fmt"
)

// Session is one side of one reconciliation. A client calls Initiate once,
// sends its message, and passes each answer to ReconcileClient until that
// returns a nil next message; a server passes each message it receives to
// Reconcile and sends back the answer. Both are deterministic functions of
// the storage and the message: the output is byte-identical to the
// reference implementations'. A Session is not safe for concurrent use;
// its methods are called from one goroutine at a time.
type Session struct {
	storage        Storage
	frameSizeLimit int
	initiator      bool // Initiate succeeded: this is the client
	served         bool // Reconcile succeeded: this is the server
}

// New returns a Session over storage, which must stay unchanged while the
// session lasts. frameSizeLimit bounds the size of every message the
// session builds in answer to a peer (Initiate's message is at most 16
// fingerprints or 31 ids long anyway): 0 means unlimited, otherwise it must
// be at least MinFrameSizeLimit. With a limit, reconciliation takes more
// round trips but each message fits.
func New(storage Storage, frameSizeLimit int) (*Session, error) {
	if storage == nil {
		return nil, errors.New("negentropy: nil storage")
	}
	if frameSizeLimit != 0 && frameSizeLimit < MinFrameSizeLimit {
		return nil, fmt.Errorf("%w: got %d", ErrFrameSizeLimit, frameSizeLimit)
	}
	return &Session{storage: storage, frameSizeLimit: frameSizeLimit}, nil
}

// Initiate makes the session the client and returns its first message. It
// may be called once, and not on a session that has served Reconcile.
func (s *Session) Initiate() ([]byte, error) {
	if s.initiator || s.served {
		return nil, fmt.Errorf("%w: Initiate called twice or on a server", ErrRole)
	}
	var enc encoder
	out, err := s.splitRange(&enc, []byte{ProtocolVersion}, 0, s.storage.Size(), infinity)
	if err != nil {
		return nil, err
	}
	s.initiator = true
	return out, nil
}

// Reconcile is the server's step: it answers a client's message. A message
// in another protocol version (0x60..0x6f) is answered with the single
// version byte 0x61, as the protocol asks, so the client can fall back; a
// malformed one fails with a *DecodeError.
func (s *Session) Reconcile(msg []byte) (next []byte, err error) {
	if s.initiator {
		return nil, fmt.Errorf("%w: Reconcile called on the client; use ReconcileClient", ErrRole)
	}
	next, _, _, err = s.reconcile(msg)
	if err != nil {
		return nil, err
	}
	s.served = true
	return next, nil
}

// ReconcileClient is the client's step: it takes the server's answer and
// returns the next message to send, or nil when reconciliation is complete.
// have lists the ids, in the ranges this answer settled, that the client
// has and the server lacks; need lists those the server has and the client
// lacks. Over the whole exchange they make up the symmetric difference, but
// an id may be reported by more than one call (as in the reference: when
// the client's own message is cut short at the frame size limit, the range
// that covers the rest also covers ranges it had already settled), so
// callers should treat them as sets.
func (s *Session) ReconcileClient(msg []byte) (next []byte, have, need [][IDSize]byte, err error) {
	if !s.initiator {
		return nil, nil, nil, fmt.Errorf("%w: ReconcileClient called before Initiate", ErrRole)
	}
	next, have, need, err = s.reconcile(msg)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(next) == 1 { // nothing left to ask about
		next = nil
	}
	return next, have, need, nil
}

// reconcile follows the reference's reconcileAux step by step, so that the
// output is byte-identical: for each incoming range, a matching fingerprint
// or a skip becomes a pending skip (merged with the following ones), a
// mismatching fingerprint is split, and an id list is answered (server) or
// settled into have/need (client). Once the output would exceed the frame
// size limit, the rest of the item space is covered by one fingerprint
// range and the message ends.
func (s *Session) reconcile(msg []byte) (out []byte, have, need [][IDSize]byte, err error) {
	d := decoder{msg: msg}
	v, err := d.version()
	if err != nil {
		return nil, nil, nil, err
	}
	if v != ProtocolVersion {
		if s.initiator {
			return nil, nil, nil, d.fail(ErrVersion, 0, "server answered in protocol version 0x%02x, want 0x%02x", v, ProtocolVersion)
		}
		return []byte{ProtocolVersion}, nil, nil, nil
	}
	// Check the whole message before acting on any of it.
	if err := d.validate(); err != nil {
		return nil, nil, nil, err
	}

	var enc encoder
	size := s.storage.Size()
	out = []byte{ProtocolVersion}
	var o []byte // the current range's output, until it is known to fit
	var prevBound bound
	prevIndex := 0
	skip := false
	for {
		r, ok, err := d.next()
		if err != nil {
			return nil, nil, nil, err
		}
		if !ok {
			break
		}
		o = o[:0]
		flushSkip := func() {
			if skip {
				skip = false
				o = enc.appendBound(o, prevBound)
				o = appendVarint(o, uint64(modeSkip))
			}
		}

		lower := prevIndex
		upper, err := s.storage.FindLowerBound(prevIndex, size, r.upper.item)
		if err != nil {
			return nil, nil, nil, err
		}

		switch r.mode {
		case modeSkip:
			skip = true

		case modeFingerprint:
			ours, err := s.storage.Fingerprint(lower, upper)
			if err != nil {
				return nil, nil, nil, err
			}
			if bytes.Equal(r.fingerprint, ours[:]) {
				skip = true
				break
			}
			flushSkip()
			if o, err = s.splitRange(&enc, o, lower, upper, r.upper); err != nil {
				return nil, nil, nil, err
			}

		case modeIDList:
			if s.initiator {
				skip = true
				if have, need, err = s.settle(r.ids, lower, upper, have, need); err != nil {
					return nil, nil, nil, err
				}
				break
			}
			flushSkip()
			// Answer with our ids of the range; if they do not fit, end the
			// list at the first id left out and let the closing
			// fingerprint range below cover the rest.
			var ids []byte
			n := 0
			end := r.upper
			err := s.storage.Iterate(lower, upper, func(i int, it Item) bool {
				if s.exceeded(len(out) + len(ids)) {
					end = bound{item: it, prefixLen: IDSize}
					upper = i
					return false
				}
				ids = append(ids, it.ID[:]...)
				n++
				return true
			})
			if err != nil {
				return nil, nil, nil, err
			}
			o = enc.appendBound(o, end)
			o = appendVarint(o, uint64(modeIDList))
			o = appendVarint(o, uint64(n))
			out = append(out, o...)
			out = append(out, ids...)
			o = o[:0]
		}

		if s.exceeded(len(out) + len(o)) {
			// As in the reference, the closing range's fingerprint covers
			// only the items from the end of this range on, so it
			// mismatches when anything before it was dropped, and the peer
			// splits it.
			fp, err := s.storage.Fingerprint(upper, size)
			if err != nil {
				return nil, nil, nil, err
			}
			out = enc.appendBound(out, infinity)
			out = appendVarint(out, uint64(modeFingerprint))
			out = append(out, fp[:]...)
			break
		}
		out = append(out, o...)
		prevIndex = upper
		prevBound = r.upper
	}
	return out, have, need, nil
}

// settle compares the server's id list for the range [lower, upper) of our
// storage with our items there, appending to have the ids only we hold and
// to need those only they hold (each once, in their order). It keeps the
// reference's semantics exactly: their ids are a set, and each of our items
// whose id is in it removes it from the set.
func (s *Session) settle(theirIDs []byte, lower, upper int, have, need [][IDSize]byte) ([][IDSize]byte, [][IDSize]byte, error) {
	count := len(theirIDs) / IDSize // bounded by the message's size
	theirs := make(map[[IDSize]byte]struct{}, count)
	order := make([][IDSize]byte, 0, count)
	for i := 0; i < count; i++ {
		id := [IDSize]byte(theirIDs[i*IDSize:])
		if _, dup := theirs[id]; !dup {
			theirs[id] = struct{}{}
			order = append(order, id)
		}
	}
	err := s.storage.Iterate(lower, upper, func(_ int, it Item) bool {
		if _, ok := theirs[it.ID]; ok {
			delete(theirs, it.ID)
		} else {
			have = append(have, it.ID)
		}
		return true
	})
	if err != nil {
		return nil, nil, err
	}
	for _, id := range order {
		if _, ok := theirs[id]; ok {
			need = append(need, id)
		}
	}
	return have, need, nil
}

// splitRange appends the ranges that describe our items [lower, upper) up
// to upperBound: the ids themselves if there are fewer than 2*buckets of
// them, else buckets fingerprint ranges of near-equal size (the first
// n%buckets one item larger), separated by the shortest bounds that fall
// between neighbouring items.
func (s *Session) splitRange(enc *encoder, o []byte, lower, upper int, upperBound bound) ([]byte, error) {
	n := upper - lower
	if n < 2*buckets {
		o = enc.appendBound(o, upperBound)
		o = appendVarint(o, uint64(modeIDList))
		o = appendVarint(o, uint64(n))
		err := s.storage.Iterate(lower, upper, func(_ int, it Item) bool {
			o = append(o, it.ID[:]...)
			return true
		})
		return o, err
	}
	per, extra := n/buckets, n%buckets
	curr := lower
	for i := 0; i < buckets; i++ {
		size := per
		if i < extra {
			size++
		}
		fp, err := s.storage.Fingerprint(curr, curr+size)
		if err != nil {
			return nil, err
		}
		curr += size
		next := upperBound
		if curr != upper {
			var prev, cur Item
			err := s.storage.Iterate(curr-1, curr+1, func(i int, it Item) bool {
				if i == curr-1 {
					prev = it
				} else {
					cur = it
				}
				return true
			})
			if err != nil {
				return nil, err
			}
			if next, err = minimalBound(prev, cur); err != nil {
				return nil, err
			}
		}
		o = enc.appendBound(o, next)
		o = appendVarint(o, uint64(modeFingerprint))
		o = append(o, fp[:]...)
	}
	return o, nil
}

// minimalBound returns the shortest bound b with prev < b <= cur: cur's
// timestamp alone if the timestamps differ, else cur's id up to and
// including the first byte that differs from prev's.
func minimalBound(prev, cur Item) (bound, error) {
	if cur.Timestamp != prev.Timestamp {
		return bound{item: Item{Timestamp: cur.Timestamp}}, nil
	}
	shared := 0
	for shared < IDSize && cur.ID[shared] == prev.ID[shared] {
		shared++
	}
	if shared == IDSize {
		return bound{}, fmt.Errorf("%w: storage holds (%d, %x) twice", ErrDuplicate, cur.Timestamp, cur.ID)
	}
	b := bound{item: Item{Timestamp: cur.Timestamp}, prefixLen: shared + 1}
	copy(b.item.ID[:], cur.ID[:shared+1])
	return b, nil
}

// exceeded reports whether an output of n bytes leaves less than the
// reserve below the frame size limit.
func (s *Session) exceeded(n int) bool {
	return s.frameSizeLimit != 0 && n > s.frameSizeLimit-frameSizeReserve
}
