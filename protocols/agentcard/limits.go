package agentcard

// Every bound the decoder and verifier enforce, in one place. A card is a
// small public document; anything larger than these is refused before any
// work proportional to it is done.
const (
	// MaxCardBytes bounds a raw card (JSON) accepted by Decode and Verify.
	MaxCardBytes = 64 << 10
	// MaxSignatures bounds how many signatures one card may carry
	// (several allow key rotation without a window nobody can verify).
	MaxSignatures = 8
	// MaxSkills bounds the skills list.
	MaxSkills = 64
	// MaxInterfaces bounds supportedInterfaces.
	MaxInterfaces = 16
	// MaxProtectedBytes bounds one decoded protected header.
	MaxProtectedBytes = 2 << 10
)
