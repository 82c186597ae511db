package card

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckCapability(t *testing.T) {
	for _, ok := range []string{"translate", "translate/de-en", "llm.summarize", "a", "0", "x_y/z9", strings.Repeat("a", MaxCapabilityLen)} {
		if err := CheckCapability(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for bad, why := range map[string]string{
		"":                                      "empty",
		"Translate":                             "upper case",
		"trans late":                            "only a-z",
		"/x":                                    "empty segment",
		"x/":                                    "ends with '/'",
		"x//y":                                  "empty segment",
		"x/../y":                                "starts with a-z",
		".hidden":                               "starts with a-z",
		"-x":                                    "starts with a-z",
		"*":                                     "starts with a-z",
		"é":                                     "starts with a-z",
		"x\x00":                                 "only a-z",
		strings.Repeat("a", MaxCapabilityLen+1): "at most",
	} {
		err := CheckCapability(bad)
		if !errors.Is(err, ErrCapability) || !strings.Contains(err.Error(), why) {
			t.Errorf("%q: err = %v, want ErrCapability saying %q", bad, err, why)
		}
	}
}

func FuzzCheckCapability(f *testing.F) {
	for _, s := range []string{"translate", "a/b", "A", "", "x//y", "a/.", strings.Repeat("z", 70)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if CheckCapability(s) != nil {
			return
		}
		// What is accepted is one spelling of a DHT key segment path.
		if len(s) == 0 || len(s) > MaxCapabilityLen || strings.Contains(s, "//") || strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") {
			t.Fatalf("accepted %q", s)
		}
		for _, seg := range strings.Split(s, "/") {
			if seg == "." || seg == ".." || strings.ToLower(seg) != seg {
				t.Fatalf("accepted %q (segment %q)", s, seg)
			}
		}
	})
}
