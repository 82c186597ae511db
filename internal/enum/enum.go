// Package enum holds the few generic helpers behind the project's typed
// enums: uint8 types starting at 1 (0 = invalid) whose wire names are a
// slice indexed by value, with "" at index 0. The protocol packages (cip,
// hcp, envelope, agentloop) share them instead of each keeping a copy.
package enum

import (
	"fmt"
	"strings"
)

// String returns names[v], or "invalid(N)" for 0 and out-of-range values.
func String[T ~uint8](names []string, v T) string {
	if int(v) > 0 && int(v) < len(names) {
		return names[v]
	}
	return fmt.Sprintf("invalid(%d)", uint8(v))
}

// Marshal returns the wire name of v, or an error for an invalid value.
func Marshal[T ~uint8](names []string, v T) ([]byte, error) {
	if int(v) > 0 && int(v) < len(names) {
		return []byte(names[v]), nil
	}
	return nil, fmt.Errorf("invalid enum value %d", uint8(v))
}

// Parse returns the value named s.
func Parse[T ~uint8](names []string, s string) (T, bool) {
	for i := 1; i < len(names); i++ {
		if names[i] == s {
			return T(i), true
		}
	}
	return 0, false
}

// Unmarshal sets *v to the value named b, or returns an error listing the
// valid names.
func Unmarshal[T ~uint8](names []string, b []byte, v *T) error {
	x, ok := Parse[T](names, string(b))
	if !ok {
		return fmt.Errorf("invalid value %q (want one of %s)", b, strings.Join(names[1:], "|"))
	}
	*v = x
	return nil
}
