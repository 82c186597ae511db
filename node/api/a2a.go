package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/web4p2p/web4p2p/node/a2a"
)

// A2APath is where the control API serves the A2A JSON-RPC endpoint
// (SPEC §13.3), behind the API token (the card's bearer scheme).
const A2APath = "/a2a"

// A2A is the A2A gateway (node/a2a.Gateway).
type A2A interface {
	Handle(ctx context.Context, req *a2a.Request) (any, *a2a.Error)
	Stream(ctx context.Context, req *a2a.Request, emit func(result any) error) *a2a.Error
	// Refused records a request that did not parse.
	Refused(err *a2a.Error)
}

// a2aRoutes serves POST /a2a: one JSON-RPC request per POST; the answer
// is one JSON-RPC response (application/json, HTTP 200 also for JSON-RPC
// errors), or for SendStreamingMessage / SubscribeToTask an SSE stream
// whose every data line is one JSON-RPC response. An error found before
// the stream starts is answered as plain JSON, as the A2A clients expect.
func (s *Server) a2aRoutes() {
	g := s.be.A2A
	s.Handle("POST "+A2APath, func(w http.ResponseWriter, r *http.Request) {
		if !need(w, g, "the A2A gateway") {
			return
		}
		raw, err := io.ReadAll(io.LimitReader(r.Body, a2a.MaxRequest+1))
		if err != nil {
			writeJSON(w, http.StatusOK, a2a.Reply(nil, nil, &a2a.Error{Code: a2a.CodeParseError, Message: "request body: " + err.Error()}))
			return
		}
		req, id, perr := a2a.ParseRequest(raw)
		if perr == nil {
			perr = a2a.CheckVersion(r.Header.Get(a2a.VersionHeader))
		}
		if perr != nil {
			g.Refused(perr)
			writeJSON(w, http.StatusOK, a2a.Reply(id, nil, perr))
			return
		}
		req.Owner = "api" // every holder of the token is the same client
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		go func() { // the server closing ends the stream
			select {
			case <-s.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		if !req.Method.Streaming() {
			res, herr := g.Handle(ctx, req)
			writeJSON(w, http.StatusOK, a2a.Reply(id, res, herr))
			return
		}
		fl, ok := w.(http.Flusher)
		if !ok {
			writeJSON(w, http.StatusOK, a2a.Reply(id, nil, &a2a.Error{Code: a2a.CodeInternal, Message: "streaming unsupported"}))
			return
		}
		started := false
		send := func(resp a2a.Response) error {
			b, err := json.Marshal(resp)
			if err != nil {
				return err
			}
			if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
				return err
			}
			fl.Flush()
			return nil
		}
		serr := g.Stream(ctx, req, func(result any) error {
			if !started {
				started = true
				w.Header().Set("Content-Type", "text/event-stream")
				w.Header().Set("Cache-Control", "no-cache")
				w.WriteHeader(http.StatusOK)
			}
			return send(a2a.Reply(id, result, nil))
		})
		switch {
		case serr == nil:
		case !started:
			writeJSON(w, http.StatusOK, a2a.Reply(id, nil, serr))
		default:
			_ = send(a2a.Reply(id, nil, serr))
		}
	})
}
