package fetch

import (
	"net/netip"
	"time"
)

// Every bound of the fetcher lives here (SPEC §7).
const (
	// DefaultTimeout bounds one fetch end to end: DNS, connect, TLS,
	// redirects and reading the body.
	DefaultTimeout = 10 * time.Second

	// DefaultMaxBody is the largest body accepted (2 MiB). The fetcher reads
	// at most one byte more, then closes the connection.
	DefaultMaxBody = 2 << 20

	// DefaultMaxRedirects is how many redirects one fetch may follow.
	DefaultMaxRedirects = 5

	// MaxURILength bounds the URI of a fetch, as the LIP envelope's
	// source.uri does.
	MaxURILength = 4096

	// DefaultVersion is the project version named in the User-Agent when the
	// caller sets none (the node passes its own build version).
	DefaultVersion = "0.1.0-dev"
)

// forbiddenPrefixes are address ranges that are not the public internet and
// that netip's predicates (IsPrivate, IsLoopback, IsLinkLocalUnicast,
// IsMulticast, IsUnspecified, ...) do not already cover. A fetch to any of
// them is refused unless Config.Allow contains the address.
var forbiddenPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT (RFC 6598)
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking (RFC 2544)
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, incl. broadcast
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64: embeds any IPv4, incl. private
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64 (RFC 8215)
	netip.MustParsePrefix("2002::/16"),      // 6to4: embeds any IPv4
	netip.MustParsePrefix("fec0::/10"),      // deprecated site-local
	netip.MustParsePrefix("100::/64"),       // discard-only (RFC 6666)
	netip.MustParsePrefix("2001::/32"),      // Teredo: embeds any IPv4
	netip.MustParsePrefix("::/128"),         // unspecified (also IsUnspecified)
}
