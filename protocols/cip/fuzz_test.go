package cip

import (
	"context"
	"errors"
	"testing"
	"time"
)

// oneShot delivers one fuzzed message, then reports the peer gone.
type oneShot struct {
	msg  []byte
	sent int
}

var errGone = errors.New("peer gone")

func (o *oneShot) Send(context.Context, []byte) error { o.sent++; return nil }
func (o *oneShot) Receive(context.Context) ([]byte, error) {
	if o.msg == nil {
		return nil, errGone
	}
	m := o.msg
	o.msg = nil
	return m, nil
}

// FuzzRespond feeds arbitrary bytes to the responder as the initiator's
// HELLO: it must fail cleanly with ErrHandshake — never panic, never
// succeed — and may only reach a verdict for identity failures.
func FuzzRespond(f *testing.F) {
	p := newPair(&gateLog{})
	h, _ := p.a.Builder.NewHello(Features{})
	m, err := p.a.Builder.Hello(Peer{Fingerprint: p.b.Builder.Fingerprint()}, h)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(m.Wire)
	f.Add([]byte(`{}`))
	f.Add(m.Wire[:len(m.Wire)/2])
	f.Fuzz(func(t *testing.T, raw []byte) {
		cfg := newPair(&gateLog{}).b
		cfg.StepTimeout = time.Second
		res, err := Respond(context.Background(), &oneShot{msg: raw}, cfg)
		if !errors.Is(err, ErrHandshake) {
			t.Fatalf("err %v", err)
		}
		if res.Outcome == OutcomeOK {
			t.Fatal("OK verdict from a single message")
		}
	})
}

// FuzzAnswerHello feeds arbitrary bytes to AnswerHello as the initiator's
// HELLO (the node does, with a fresh RTT session's early data): it never
// panics, and it answers only a valid HELLO signed by the connection's key
// — which random bytes are not, so beyond the seed nothing is answered.
func FuzzAnswerHello(f *testing.F) {
	p := newPair(&gateLog{})
	good, err := BuildHello(p.a.Builder, p.a.RemoteKey, p.a.Features)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add(good[:len(good)/2])
	f.Fuzz(func(t *testing.T, raw []byte) {
		cfg := newPair(&gateLog{}).b
		a, reply, err := AnswerHello(cfg, raw)
		if err != nil {
			if a != nil || reply != nil {
				t.Fatal("an error with an answer")
			}
			return
		}
		if string(raw) != string(good) {
			t.Fatalf("answered a HELLO that is not the one the initiator signed: %q", raw)
		}
	})
}
