package publicnet

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p"
	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/ipfs/go-log/v2/writer.(*MirrorWriter).logRoutine"),
		goleak.IgnoreTopFunction("github.com/libp2p/go-libp2p/p2p/transport/quicreuse.(*reuse).gc"))
}

func TestParse(t *testing.T) {
	r, err := Parse([]string{"198.18.0.0/15", " 10.1.2.3/8 "})
	if err != nil {
		t.Fatal(err)
	}
	if r[1] != netip.MustParsePrefix("10.0.0.0/8") {
		t.Fatalf("prefix not masked: %v", r[1])
	}
	for _, bad := range []string{"", "198.18.0.0", "198.18.0.0/40", "lab"} {
		if _, err := Parse([]string{bad}); err == nil || !strings.Contains(err.Error(), "want a prefix") {
			t.Errorf("Parse(%q) = %v, want a clear error", bad, err)
		}
	}
}

// go-multiaddr counts 198.18.0.0/15 as not public; declared, it is, and
// nothing outside the declared range changes.
func TestDeclaredAndPublic(t *testing.T) {
	r := Ranges{netip.MustParsePrefix("198.18.0.0/15")}
	for _, tc := range []struct {
		addr             string
		declared, public bool
	}{
		{"/ip4/198.18.0.1/udp/4001/quic-v1", true, true},
		{"/ip4/198.19.255.1/tcp/4001", true, true},
		{"/ip4/198.20.0.1/tcp/4001", false, true}, // public anyway
		{"/ip4/192.168.1.1/tcp/4001", false, false},
		{"/ip4/127.0.0.1/tcp/4001", false, false},
		{"/ip4/198.18.0.1/tcp/1/p2p/12D3KooWJGvTMtp3CyBtLF89zp3tekCuVjGokLoZFZzHXpfEvq3Z/p2p-circuit", true, true},
		{"/p2p-circuit", false, false},
		{"/dns4/example.com/tcp/1", false, true},
	} {
		a := ma.StringCast(tc.addr)
		if got := r.Declared(a); got != tc.declared {
			t.Errorf("Declared(%s) = %v", tc.addr, got)
		}
		if got := r.Public(a); got != tc.public {
			t.Errorf("Public(%s) = %v", tc.addr, got)
		}
	}
	if (Ranges(nil)).Declared(ma.StringCast("/ip4/198.18.0.1/tcp/1")) {
		t.Error("no ranges declare nothing")
	}
}

// NewHolePunch starts on a real host and Close leaves no goroutine (goleak
// in TestMain), twice without harm.
func TestHolePunchStartsAndCloses(t *testing.T) {
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/udp/0/quic-v1"), libp2p.DisableMetrics())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	hp, err := NewHolePunch(h, Ranges{netip.MustParsePrefix("127.0.0.0/8")})
	if err != nil {
		t.Fatal(err)
	}
	if err := hp.Close(); err != nil {
		t.Fatal(err)
	}
	if err := hp.Close(); err != nil {
		t.Fatal(err)
	}
}

// Parse never panics and either fails or returns masked prefixes.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"198.18.0.0/15", "::/0", "1.2.3.4", "", "fe80::1%eth0/64"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse([]string{s})
		if err != nil {
			return
		}
		if len(r) != 1 || r[0] != r[0].Masked() {
			t.Fatalf("Parse(%q) = %v", s, r)
		}
	})
}
