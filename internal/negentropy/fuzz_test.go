package negentropy

import (
	"errors"
	"math/rand/v2"
	"testing"
)

// fuzzStorage is a fixed set with 300 items under 20 timestamps, so
// arbitrary bounds land between, on and around real items.
func fuzzStorage(t testing.TB) *Vector {
	client, _ := genSets(rand.New(rand.NewPCG(1, 1)), 300, 0, 0, 1000, 20)
	return client.vector(t)
}

// FuzzDecode feeds arbitrary bytes to the decoder, a server (unlimited and
// at 4096 bytes) and a client. None may panic; a rejection is a
// *DecodeError with an offset inside the message; an accepted message
// yields an answer that is itself well-formed, within the frame size limit,
// and reports only ids that exist on one side.
func FuzzDecode(f *testing.F) {
	for _, v := range readVectors(f) {
		for _, st := range v.steps {
			f.Add(st.c2s)
			f.Add(st.s2c)
		}
		for _, p := range v.probes {
			f.Add(p[0])
		}
	}
	for _, s := range []string{"", "61", "6100000200", "61000001", "618000", "61ffffffffffffffffffff7f", "610500030000", "6100000202"} {
		f.Add(unhex(f, s))
	}
	storage := fuzzStorage(f)
	ours := make(map[[IDSize]byte]bool)
	_ = storage.Iterate(0, storage.Size(), func(_ int, it Item) bool { ours[it.ID] = true; return true })

	f.Fuzz(func(t *testing.T, msg []byte) {
		d := decoder{msg: msg}
		_, err := d.version()
		if err == nil {
			err = d.validate()
		}
		checkDecodeErr(t, msg, err)

		for _, limit := range []int{0, MinFrameSizeLimit} {
			s := mustSession(t, storage, limit)
			out, err := s.Reconcile(msg)
			checkDecodeErr(t, msg, err)
			if err == nil {
				checkWellFormed(t, out, limit)
			}
		}

		c := mustSession(t, storage, 0)
		if _, err := c.Initiate(); err != nil {
			t.Fatal(err)
		}
		next, have, need, err := c.ReconcileClient(msg)
		checkDecodeErr(t, msg, err)
		if err != nil {
			return
		}
		if next != nil {
			checkWellFormed(t, next, 0)
		}
		for _, id := range have {
			if !ours[id] {
				t.Fatalf("have lists %x, which the client does not hold", id)
			}
		}
		for _, id := range need {
			if ours[id] {
				t.Fatalf("need lists %x, which the client holds", id)
			}
		}
	})
}

func checkDecodeErr(t *testing.T, msg []byte, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var de *DecodeError
	if !errors.As(err, &de) || !errors.Is(err, ErrMalformed) {
		t.Fatalf("error %v is not a *DecodeError", err)
	}
	if de.Offset < 0 || de.Offset > len(msg) {
		t.Fatalf("error offset %d outside a %d-byte message", de.Offset, len(msg))
	}
}

func checkWellFormed(t *testing.T, out []byte, limit int) {
	t.Helper()
	if limit != 0 && len(out) > limit {
		t.Fatalf("answer of %d bytes exceeds the %d-byte limit", len(out), limit)
	}
	d := decoder{msg: out}
	v, err := d.version()
	if err == nil && v == ProtocolVersion {
		err = d.validate()
	}
	if err != nil {
		t.Fatalf("our own answer %x does not decode: %v", out, err)
	}
}

// FuzzReconcile reconciles two random sets (sizes, overlap, timestamp
// spread, id shape and frame size limits drawn from the input) and
// requires the client to learn exactly the symmetric difference.
func FuzzReconcile(f *testing.F) {
	f.Add(uint64(1), uint16(0), uint8(0), uint8(0), uint32(0), uint8(0))
	f.Add(uint64(2), uint16(100), uint8(255), uint8(255), uint32(100), uint8(1))
	f.Add(uint64(3), uint16(3000), uint8(10), uint8(10), uint32(3000), uint8(2|4))
	f.Add(uint64(4), uint16(2000), uint8(5), uint8(40), uint32(3), uint8(8|2))
	f.Add(uint64(5), uint16(1500), uint8(128), uint8(0), uint32(0), uint8(16|4))
	f.Fuzz(func(t *testing.T, seed uint64, n uint16, p1, p2 uint8, spread uint32, shape uint8) {
		r := rand.New(rand.NewPCG(seed, uint64(shape)))
		client, server := genSets(r, int(n%4000), float64(p1)/512, float64(p2)/512, uint64(seed%1000), uint64(spread))
		// Ids that share their first 24 bytes. (With fewer random bytes,
		// different ranges would often have the same sum and count, and so
		// the same fingerprint: see Item.)
		if shape&1 != 0 {
			for _, s := range []set{client, server} {
				for i := range s {
					clear(s[i].ID[:IDSize-8])
				}
			}
		}
		limits := [2]int{0, 0}
		if shape&2 != 0 {
			limits[0] = MinFrameSizeLimit
		}
		if shape&4 != 0 {
			limits[1] = MinFrameSizeLimit
		}
		if shape&8 != 0 { // near the top of the timestamp range
			for _, s := range []set{client, server} {
				for i := range s {
					s[i].Timestamp = infinityTimestamp - 1 - s[i].Timestamp%1000
				}
			}
		}
		if shape&16 != 0 { // the sides swap roles
			client, server = server, client
		}
		client, server = uniqueIDs(client, server)
		tr := reconcileGo(t, client.vector(t), server.vector(t), limits[0], limits[1])
		checkDiff(t, tr, client, server)
	})
}

// uniqueIDs drops repeated items and items whose id already came with
// another timestamp, which the shape changes can produce: within a range
// the protocol compares ids alone, so an id under two timestamps is a
// single element to it (see Item).
func uniqueIDs(client, server set) (set, set) {
	ts := make(map[[IDSize]byte]uint64)
	keep := func(s set) set {
		seen := make(map[Item]bool, len(s))
		out := s[:0:0]
		for _, it := range s {
			if t, ok := ts[it.ID]; (ok && t != it.Timestamp) || seen[it] {
				continue
			}
			ts[it.ID] = it.Timestamp
			seen[it] = true
			out = append(out, it)
		}
		return out
	}
	return keep(client), keep(server)
}
