package cip

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/web4p2p/web4p2p/protocols/envelope"
)

// ErrChallenge reports a malformed challenge or a response that does not
// verify.
var ErrChallenge = errors.New("cip: challenge response invalid")

// ChallengeBytes returns the exact bytes a challenge response signs (see
// ChallengePrefix for the layout). challenge is the base64 text carried in
// HELLO.challenge.
func ChallengeBytes(challenge, challengerFP, responderFP string) ([]byte, error) {
	ch, err := base64.StdEncoding.Strict().DecodeString(challenge)
	if err != nil || len(ch) != ChallengeSize {
		return nil, fmt.Errorf("%w: challenge is not %d bytes of canonical base64", ErrChallenge, ChallengeSize)
	}
	if len(challengerFP) != 64 || len(responderFP) != 64 {
		return nil, fmt.Errorf("%w: fingerprints must be 64 hex characters", ErrChallenge)
	}
	b := make([]byte, 0, len(ChallengePrefix)+ChallengeSize+128)
	b = append(b, ChallengePrefix...)
	b = append(b, ch...)
	b = append(b, challengerFP...)
	return append(b, responderFP...), nil
}

// RespondChallenge signs the challenge of the peer whose fingerprint is
// challengerFP with key and returns the base64 response.
func RespondChallenge(key ed25519.PrivateKey, challenge, challengerFP string) (string, error) {
	if len(key) != ed25519.PrivateKeySize {
		return "", fmt.Errorf("%w: no ed25519 private key", ErrChallenge)
	}
	msg, err := ChallengeBytes(challenge, challengerFP, fingerprintOf(key))
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(envelope.SignBytes(key, msg)), nil
}

// VerifyChallenge checks that response is responder's signature over our
// challenge, bound to both fingerprints.
func VerifyChallenge(responder ed25519.PublicKey, response, challenge, challengerFP string) error {
	if len(responder) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: responder key has %d bytes", ErrChallenge, len(responder))
	}
	msg, err := ChallengeBytes(challenge, challengerFP, fingerprintOfPub(responder))
	if err != nil {
		return err
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(response)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: response is not a base64 64-byte signature", ErrChallenge)
	}
	if !envelope.VerifyBytes(responder, msg, sig) {
		return fmt.Errorf("%w: signature does not verify", ErrChallenge)
	}
	return nil
}

func fingerprintOf(key ed25519.PrivateKey) string {
	return envelope.Fingerprint(key.Public().(ed25519.PublicKey))
}

func fingerprintOfPub(pub ed25519.PublicKey) string { return envelope.Fingerprint(pub) }
