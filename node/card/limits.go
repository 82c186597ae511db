package card

import "time"

// Every bound of the card runtime, in one place.
const (
	// MaxCapabilities bounds the capabilities one node declares (each is a
	// skill on the card and a DHT provider record re-advertised forever).
	MaxCapabilities = 32
	// MaxCapabilityLen bounds one capability name (it is part of a DHT key).
	MaxCapabilityLen = 64
	// MaxCardAddrs bounds the listen addresses listed on the card (a host
	// on many interfaces has many; the card stays well under
	// agentcard.MaxInterfaces and MaxCardBytes).
	MaxCardAddrs = 8
	// StreamTimeout bounds one /web4/card/1.0 exchange, on both sides.
	StreamTimeout = 10 * time.Second
	// MaxFindResults bounds the providers one Find looks at.
	MaxFindResults = 64
	// DefaultFindResults is Find's limit when the caller gives none.
	DefaultFindResults = 20
	// findParallel bounds the cards fetched at once by one Find.
	findParallel = 8
)
