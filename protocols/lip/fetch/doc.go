// Package fetch is the LIP fetcher (SPEC §7): the one place where a web4p2p
// node reaches out to the internet. A LIP_FETCH names a URI; Fetcher.Fetch
// performs a bounded HTTP(S) GET and returns the body together with the
// provenance the liminal queue needs (final URI, retrieval time, SHA-256 of
// the content, content type and charset).
//
// Because a fetch is triggered by messages from other agents, the fetcher is
// a server-side request forgery target. It therefore:
//
//   - accepts only http and https, on every redirect, and at most
//     MaxRedirects redirects;
//   - resolves names itself and refuses private, loopback, link-local,
//     unspecified, multicast and other non-public destinations unless an
//     explicitly configured allow-list prefix contains them. The check runs on
//     the resolved IP inside the dial path (and again in the real dialer's
//     Control hook on the address actually being connected), and the
//     connection is made to that same IP, so DNS rebinding cannot slip a
//     private address in between the check and the connect; environment
//     proxies are never used;
//   - bounds time (Timeout for the whole exchange, body included) and size
//     (MaxBody: it stops reading one byte past the limit and closes the
//     connection);
//   - accepts only textual bodies in UTF-8 (or US-ASCII), since every
//     extractor works on text.
//
// Every refusal returns an error wrapping one of the sentinels in errors.go
// (compare with errors.Is) and emits a "web4.lip.fetch_refused" event; a
// success emits "web4.lip.fetched". Resolver and dialer are injectable so
// tests prove refusals without any packet leaving the machine. Bounds live in
// limits.go. This package knows nothing about claims: extraction and the
// queue live in protocols/lip and protocols/lip/extract.
package fetch
