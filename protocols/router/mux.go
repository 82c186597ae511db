package router

import (
	"context"
	"fmt"

	"github.com/web4p2p/web4p2p/protocols/envelope"
)

// TypeMux splits one route among several runtimes by message type, e.g.
// the Knowledge route between the knowledge store (FACT_*) and the LIP
// runtime (LIP_*). It is itself a Handler; build it before registering and
// do not modify it afterwards. A type without an entry is an error, which
// Route reports as handler_failed.
type TypeMux map[envelope.Type]Handler

// Handle dispatches on msg.Env.Type.
func (m TypeMux) Handle(ctx context.Context, msg *Message) error {
	h, ok := m[msg.Env.Type]
	if !ok || h == nil {
		return fmt.Errorf("%w: no handler for type %s on this route", ErrNoHandler, msg.Env.Type)
	}
	return h.Handle(ctx, msg)
}
