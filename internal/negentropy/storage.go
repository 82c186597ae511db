package negentropy

import (
	"fmt"
	"slices"
	"sort"
)

// Storage is the sorted, fixed set of items a Session reconciles. Indexes
// run from 0 to Size()-1 in item order (Item.Compare); the set must not
// change while a Session uses it, and must not hold the same item twice.
// A Session calls it only from within its own methods, on the caller's
// goroutine; an error from it aborts that call and is returned as is.
type Storage interface {
	// Size is the number of items.
	Size() int
	// Iterate calls fn with each index in [begin, end) and its item, in
	// order, until fn returns false.
	Iterate(begin, end int, fn func(i int, it Item) bool) error
	// FindLowerBound returns the index of the first item in [begin, end)
	// that is not less than bound, or end if there is none.
	FindLowerBound(begin, end int, bound Item) (int, error)
	// Fingerprint returns the fingerprint of the items in [begin, end).
	Fingerprint(begin, end int) (Fingerprint, error)
}

// Vector is the in-memory Storage: Insert the items in any order, then Seal
// sorts them, rejects duplicates and precomputes running id sums so that
// every Fingerprint costs one subtraction and one SHA-256. The zero value is
// an empty, unsealed vector. It is not safe for concurrent Insert; once
// sealed it is read-only and may back any number of Sessions.
type Vector struct {
	items  []Item
	sums   []Accumulator // sums[i] = sum of items[:i].ID, built by Seal
	sealed bool
}

var _ Storage = (*Vector)(nil)

// Insert adds an item. It fails after Seal and for the reserved timestamp.
func (v *Vector) Insert(timestamp uint64, id [IDSize]byte) error {
	if v.sealed {
		return ErrSealed
	}
	if timestamp == infinityTimestamp {
		return ErrReservedTimestamp
	}
	v.items = append(v.items, Item{Timestamp: timestamp, ID: id})
	return nil
}

// Seal sorts the items and makes the vector readable. It fails if the same
// item was inserted twice (the same id under two timestamps is two items).
func (v *Vector) Seal() error {
	if v.sealed {
		return ErrSealed
	}
	slices.SortFunc(v.items, Item.Compare)
	for i := 1; i < len(v.items); i++ {
		if v.items[i-1] == v.items[i] {
			return fmt.Errorf("%w: timestamp %d id %x", ErrDuplicate, v.items[i].Timestamp, v.items[i].ID)
		}
	}
	v.sums = make([]Accumulator, len(v.items)+1)
	for i, it := range v.items {
		v.sums[i+1] = v.sums[i]
		v.sums[i+1].Add(it.ID)
	}
	v.sealed = true
	return nil
}

// Size is the number of items (0 before Seal).
func (v *Vector) Size() int {
	if !v.sealed {
		return 0
	}
	return len(v.items)
}

func (v *Vector) check(begin, end int) error {
	if !v.sealed {
		return ErrNotSealed
	}
	if begin < 0 || begin > end || end > len(v.items) {
		return fmt.Errorf("%w: [%d, %d) of %d items", ErrRange, begin, end, len(v.items))
	}
	return nil
}

// Iterate calls fn for the items in [begin, end) until it returns false.
func (v *Vector) Iterate(begin, end int, fn func(i int, it Item) bool) error {
	if err := v.check(begin, end); err != nil {
		return err
	}
	for i := begin; i < end; i++ {
		if !fn(i, v.items[i]) {
			break
		}
	}
	return nil
}

// FindLowerBound returns the first index in [begin, end) whose item is not
// less than bound, or end.
func (v *Vector) FindLowerBound(begin, end int, bound Item) (int, error) {
	if err := v.check(begin, end); err != nil {
		return 0, err
	}
	return begin + sort.Search(end-begin, func(i int) bool {
		return v.items[begin+i].Compare(bound) >= 0
	}), nil
}

// Fingerprint returns the fingerprint of the items in [begin, end).
func (v *Vector) Fingerprint(begin, end int) (Fingerprint, error) {
	if err := v.check(begin, end); err != nil {
		return Fingerprint{}, err
	}
	acc := v.sums[end]
	acc.Sub(v.sums[begin].Sum())
	return acc.Fingerprint(uint64(end - begin)), nil
}
