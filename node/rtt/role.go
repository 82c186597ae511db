package rtt

// Initiator reports whether this side dialled the session. The protocols
// that run over a session (the CIP handshake) are led by the dialer, so
// both ends agree on who speaks first without another round trip.
func (t *Transport) Initiator() bool { return t.initiator }
