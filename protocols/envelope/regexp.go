package envelope

import (
	"regexp"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The envelope schemas use a handful of fixed-shape patterns (UUID v4,
// fingerprints, base64 keys and signatures, UTC timestamps) on every
// message. Go's regexp engine made them a fifth of schema validation time,
// so the compiler gets an engine that recognises exactly these pattern
// strings and matches them with straight-line code; any other pattern (for
// example in a schema registered later) goes to regexp. TestFastPatterns
// checks each matcher against regexp.

type charClass func(c byte) bool

func isLowerHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }
func isDigit(c byte) bool    { return c >= '0' && c <= '9' }
func isB64(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/'
}

// run reports whether s[i:i+n] are all in class.
func run(s string, i, n int, class charClass) bool {
	if i+n > len(s) {
		return false
	}
	for j := i; j < i+n; j++ {
		if !class(s[j]) {
			return false
		}
	}
	return true
}

func matchUUID4(s string) bool {
	return len(s) == 36 && run(s, 0, 8, isLowerHex) && s[8] == '-' && run(s, 9, 4, isLowerHex) && s[13] == '-' &&
		s[14] == '4' && run(s, 15, 3, isLowerHex) && s[18] == '-' &&
		(s[19] == '8' || s[19] == '9' || s[19] == 'a' || s[19] == 'b') && run(s, 20, 3, isLowerHex) && s[23] == '-' &&
		run(s, 24, 12, isLowerHex)
}

func matchTimestamp(s string) bool {
	if len(s) < 20 || !(run(s, 0, 4, isDigit) && s[4] == '-' && run(s, 5, 2, isDigit) && s[7] == '-' && run(s, 8, 2, isDigit) &&
		s[10] == 'T' && run(s, 11, 2, isDigit) && s[13] == ':' && run(s, 14, 2, isDigit) && s[16] == ':' && run(s, 17, 2, isDigit)) {
		return false
	}
	rest := s[19:]
	if rest == "Z" {
		return true
	}
	if rest[0] != '.' || rest[len(rest)-1] != 'Z' {
		return false
	}
	n := len(rest) - 2
	return n >= 1 && n <= 9 && run(rest, 1, n, isDigit)
}

func fixedB64(n int, pad string) func(string) bool {
	return func(s string) bool {
		return len(s) == n+len(pad) && run(s, 0, n, isB64) && s[n:] == pad
	}
}

var fastPatterns = map[string]func(string) bool{
	`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`:   matchUUID4,
	`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z$`: matchTimestamp,
	`^[0-9a-f]{64}$`:        func(s string) bool { return len(s) == 64 && run(s, 0, 64, isLowerHex) },
	`^[A-Za-z0-9+/]{43}=$`:  fixedB64(43, "="),
	`^[A-Za-z0-9+/]{86}==$`: fixedB64(86, "=="),
	`^[A-Za-z0-9+/]{22}==$`: fixedB64(22, "=="),
}

type fastRegexp struct {
	src   string
	match func(string) bool
}

func (f fastRegexp) String() string            { return f.src }
func (f fastRegexp) MatchString(s string) bool { return f.match(s) }

func regexpEngine(src string) (jsonschema.Regexp, error) {
	if m, ok := fastPatterns[src]; ok {
		return fastRegexp{src: src, match: m}, nil
	}
	return regexp.Compile(src)
}
