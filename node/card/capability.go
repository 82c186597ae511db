package card

import (
	"errors"
	"fmt"
)

// ErrCapability marks a capability name CheckCapability refuses.
var ErrCapability = errors.New("bad capability name")

// CheckCapability validates a capability name as declared with
// `start --capability` and searched with `find`: 1 to MaxCapabilityLen
// characters of a-z, 0-9, '-', '_', '.', '/', in segments separated by
// single '/' ("translate", "translate/de-en", "llm.summarize"), each
// segment starting with a letter or a digit. The name is part of the DHT
// key web4/capability/<name>, so it is kept to one spelling: no upper
// case, no spaces, no empty, "." or ".." segments. The error says what is
// wrong and where; the caller adds the field.
func CheckCapability(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty (want e.g. \"translate\" or \"translate/de-en\")", ErrCapability)
	case len(name) > MaxCapabilityLen:
		return fmt.Errorf("%w %.20q…: %d bytes, at most %d", ErrCapability, name, len(name), MaxCapabilityLen)
	}
	segStart := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		switch {
		case c >= 'A' && c <= 'Z':
			return fmt.Errorf("%w %q: byte %d %q: upper case (capability names are lower case)", ErrCapability, name, i, c)
		case segStart && !alnum:
			if c == '/' {
				return fmt.Errorf("%w %q: empty segment at byte %d (no leading, trailing or double '/')", ErrCapability, name, i)
			}
			return fmt.Errorf("%w %q: byte %d %q: each '/'-separated segment starts with a-z or 0-9", ErrCapability, name, i, c)
		case alnum, c == '-', c == '_', c == '.':
			segStart = false
		case c == '/':
			segStart = true
		default:
			return fmt.Errorf("%w %q: byte %d %q: only a-z, 0-9, '-', '_', '.' and '/' are allowed", ErrCapability, name, i, c)
		}
	}
	if segStart {
		return fmt.Errorf("%w %q: ends with '/' (empty last segment)", ErrCapability, name)
	}
	return nil
}
