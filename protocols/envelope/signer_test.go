package envelope

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// aliceSigner signs as newEnv's sender, drawing newEnv's msg_id.
func aliceSigner(t testing.TB, fam Family, calls *[]string) *Signer {
	id, err := hex.DecodeString("6f1c1a2e8f3b4c5d9e7f0a1b2c3d4e5f")
	if err != nil {
		t.Fatal(err)
	}
	return &Signer{
		Family: fam, Key: aliceKey, AgentID: "alice", Capabilities: []string{"facts"},
		Now:   func() time.Time { *calls = append(*calls, "now"); return t0 },
		Rand:  &recordingReader{r: bytes.NewReader(id), calls: calls},
		State: func() State { *calls = append(*calls, "state"); return newEnv(FactPropose, "{}").State },
	}
}

type recordingReader struct {
	r     *bytes.Reader
	calls *[]string
}

func (r *recordingReader) Read(p []byte) (int, error) {
	*r.calls = append(*r.calls, "rand")
	return r.r.Read(p)
}

// TestSignerMatchesSeal: what a Signer emits is byte for byte what Seal
// makes of the same envelope built by hand, it validates, and the inputs
// are drawn in the documented order, once each.
func TestSignerMatchesSeal(t *testing.T) {
	want := newEnv(FactPropose, factPayload)
	wantWire := seal(t, want, aliceKey)
	var calls []string
	env, wire, err := aliceSigner(t, CIP, &calls).Sign(Draft{Type: FactPropose, Receiver: want.Receiver, Trust: want.Trust,
		Payload: json.RawMessage(factPayload)})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(wire, wantWire) {
		t.Fatalf("Signer wire differs from Seal:\n got %s\nwant %s", wire, wantWire)
	}
	if !bytes.Equal(env.Raw(), wire) || env.Family != CIP || env.MsgID != want.MsgID {
		t.Fatalf("envelope %+v does not describe its wire", env)
	}
	if got := strings.Join(calls, " "); got != "rand state now" {
		t.Fatalf("inputs drawn as %q, want %q", got, "rand state now")
	}
	if _, err := bobValidator(nil).Validate(wire); err != nil {
		t.Fatal(err)
	}
}

func TestSignerDefaults(t *testing.T) {
	s := &Signer{Family: CIP, Key: aliceKey}
	env, _, err := s.Sign(Draft{Type: FactPropose, Receiver: Receiver{Fingerprint: Broadcast}, Trust: TrustFor(0, 0),
		Payload: json.RawMessage(factPayload)})
	if err != nil {
		t.Fatal(err)
	}
	if env.Sender.Capabilities == nil || len(env.Sender.Capabilities) != 0 {
		t.Fatalf("nil capabilities written as %#v, want []", env.Sender.Capabilities)
	}
	if env.State.Presence != Diffuse || env.State.LRI != 0 || env.State.KernelSignals == nil {
		t.Fatalf("default state %+v, want diffuse, LRI 0", env.State)
	}
	if !matchUUID4(env.MsgID) || env.Timestamp.IsZero() || env.Sender.Fingerprint != aliceFP {
		t.Fatalf("stamps %q %v %q", env.MsgID, env.Timestamp, env.Sender.Fingerprint)
	}
}

// TestSignerRefuses: a refused draft is an error of the documented class
// and draws no randomness, reads no clock and asks for no state.
func TestSignerRefuses(t *testing.T) {
	for name, c := range map[string]struct {
		mod  func(*Signer)
		d    Draft
		kind error
	}{
		"other family": {nil, Draft{Type: HCPHello, Payload: map[string]any{}}, ErrSeal},
		"no key":       {func(s *Signer) { s.Key = nil }, Draft{Type: FactPropose, Payload: json.RawMessage(factPayload)}, ErrSeal},
		"bad payload":  {nil, Draft{Type: FactConfirm, Payload: map[string]any{"confidence": 2}}, ErrPayloadSchema},
	} {
		var calls []string
		s := aliceSigner(t, CIP, &calls)
		if c.mod != nil {
			c.mod(s)
		}
		if _, _, err := s.Sign(c.d); !errors.Is(err, c.kind) {
			t.Errorf("%s: err %v, want %v", name, err, c.kind)
		}
		if len(calls) != 0 {
			t.Errorf("%s: drew %v before refusing", name, calls)
		}
	}
	s := &Signer{Family: CIP, Key: aliceKey, Rand: iotest.ErrReader(errors.New("drained"))}
	if _, _, err := s.Sign(Draft{Type: FactPropose, Payload: json.RawMessage(factPayload)}); !errors.Is(err, ErrSeal) {
		t.Fatalf("failing randomness: %v, want ErrSeal", err)
	}
}
