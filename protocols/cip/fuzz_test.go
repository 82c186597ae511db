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
