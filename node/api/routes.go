package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/node/peers"
	"github.com/web4p2p/web4p2p/node/rtt"
	"github.com/web4p2p/web4p2p/trust"
)

func (s *Server) routes() {
	s.nodeRoutes()
	s.channelRoutes()
	s.factRoutes()
	s.humanRoutes()
	s.learnRoutes()
	s.consoleRoutes()
	s.agentRoutes()
	s.a2aRoutes()
	s.cardRoutes()
	s.eventRoutes()
}

// need answers 503 for an area the node does not run.
func need(w http.ResponseWriter, area any, name string) bool {
	if area == nil {
		writeError(w, Errorf(http.StatusServiceUnavailable, "unavailable", "%s is not running on this node", name))
		return false
	}
	return true
}

func (s *Server) nodeRoutes() {
	n := s.be.Node
	s.Handle("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		if need(w, n, "the node") {
			writeJSON(w, http.StatusOK, n.Status())
		}
	})
	s.Handle("GET /v1/peers", func(w http.ResponseWriter, r *http.Request) {
		if need(w, n, "the node") {
			writeJSON(w, http.StatusOK, map[string]any{"peers": nonNil(n.Peers())})
		}
	})
	s.Handle("POST /v1/connect", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Addr string `json:"addr"`
		}
		if !decode(w, r, &req) || !need(w, n, "the node") {
			return
		}
		if req.Addr == "" {
			writeError(w, Errorf(http.StatusBadRequest, "bad_request", "field \"addr\": required (a PeerID or a multiaddr ending in /p2p/<PeerID>)"))
			return
		}
		ai, err := peer.AddrInfoFromString(req.Addr)
		if err != nil {
			// A bare PeerID: the node finds its addresses (DHT, SPEC §2.2).
			id, idErr := peer.Decode(req.Addr)
			if idErr != nil {
				writeError(w, Errorf(http.StatusBadRequest, "bad_multiaddr", "field \"addr\": %q must be a PeerID or a multiaddr ending in /p2p/<PeerID>: %v", req.Addr, err))
				return
			}
			ai = &peer.AddrInfo{ID: id}
		}
		ctx, cancel := context.WithTimeout(r.Context(), connectTimeout)
		defer cancel()
		p, err := n.Connect(ctx, *ai)
		reply(w, p, mapErr(err))
	})
	s.Handle("GET /v1/trust", func(w http.ResponseWriter, r *http.Request) {
		if need(w, n, "the node") {
			writeJSON(w, http.StatusOK, map[string]any{"trust": nonNil(n.Trust())})
		}
	})
	s.Handle("POST /v1/trust/{peer}", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			State  string `json:"state"`
			Reason string `json:"reason"`
		}
		if !decode(w, r, &req) || !need(w, n, "the node") {
			return
		}
		if req.State == "" || req.Reason == "" {
			writeError(w, Errorf(http.StatusBadRequest, "bad_request", "fields \"state\" and \"reason\" are required (the reason is recorded in the trust ledger)"))
			return
		}
		fp, err := fingerprintOf(r.PathValue("peer"))
		if err != nil {
			writeError(w, err)
			return
		}
		want, err := trust.ParseState(req.State)
		if err != nil {
			writeError(w, Errorf(http.StatusBadRequest, "bad_request", "field \"state\": %v", err))
			return
		}
		e, err := n.SetTrust(fp, want, req.Reason)
		switch {
		case errors.Is(err, ErrNotInLedger):
			err = Errorf(http.StatusNotFound, "unknown_peer", "%s is not in the trust ledger", r.PathValue("peer"))
		case errors.Is(err, ErrOverrideRefused):
			err = Errorf(http.StatusConflict, "override_refused", "%v", err)
		}
		reply(w, e, err)
	})
}

// connectTimeout bounds POST /v1/connect (dial and RTT session).
const connectTimeout = 20 * time.Second

// fingerprintOf accepts a PeerID or a 64-hex fingerprint.
func fingerprintOf(s string) (string, error) {
	if trust.CheckFingerprint(s) == nil {
		return s, nil
	}
	p, err := peer.Decode(s)
	if err != nil {
		return "", Errorf(http.StatusBadRequest, "bad_peer", "%q is neither a PeerID nor a 64-hex fingerprint", s)
	}
	fp, err := peers.FingerprintOf(p)
	if err != nil {
		return "", Errorf(http.StatusBadRequest, "bad_peer", "%v", err)
	}
	return fp, nil
}

// peerOf parses the {peer} path value.
func peerOf(r *http.Request) (peer.ID, error) {
	s := r.PathValue("peer")
	p, err := peer.Decode(s)
	if err != nil {
		return "", Errorf(http.StatusBadRequest, "bad_peer", "%q is not a PeerID: %v", s, err)
	}
	return p, nil
}

func (s *Server) channelRoutes() {
	c := s.be.Channels
	// RTT channel operations: the milestone's transport API for scripts.
	type chanReq struct {
		Channel   string `json:"channel"`
		Data      []byte `json:"data,omitempty"` // base64 in JSON
		TimeoutMS int    `json:"timeout_ms,omitempty"`
	}
	// parse reads the body and the path: false (and the error written)
	// if either is bad.
	parse := func(w http.ResponseWriter, r *http.Request, req *chanReq) (peer.ID, rtt.Channel, bool) {
		if !decode(w, r, req) || !need(w, c, "the RTT transport") {
			return "", 0, false
		}
		if req.Channel == "" {
			writeError(w, Errorf(http.StatusBadRequest, "bad_request", "field \"channel\": required (control|state|knowledge)"))
			return "", 0, false
		}
		p, err := peerOf(r)
		if err != nil {
			writeError(w, err)
			return "", 0, false
		}
		ch, err := rtt.ParseChannel(req.Channel)
		if err != nil {
			writeError(w, Errorf(http.StatusBadRequest, "bad_channel", "%v", err))
			return "", 0, false
		}
		return p, ch, true
	}
	s.Handle("POST /v1/rtt/{peer}/open", func(w http.ResponseWriter, r *http.Request) {
		var req chanReq
		if p, ch, ok := parse(w, r, &req); ok {
			reply(w, map[string]any{"channel": req.Channel, "open": true}, mapErr(c.OpenChannel(r.Context(), p, ch)))
		}
	})
	s.Handle("POST /v1/rtt/{peer}/send", func(w http.ResponseWriter, r *http.Request) {
		var req chanReq
		if p, ch, ok := parse(w, r, &req); ok {
			reply(w, map[string]any{"sent": len(req.Data)}, mapErr(c.SendApp(r.Context(), p, ch, req.Data)))
		}
	})
	s.Handle("POST /v1/rtt/{peer}/receive", func(w http.ResponseWriter, r *http.Request) {
		var req chanReq
		p, ch, ok := parse(w, r, &req)
		if !ok {
			return
		}
		wait, err := timeoutOf(req.TimeoutMS, DefaultReceiveWait, MaxReceiveWait)
		if err != nil {
			writeError(w, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		defer cancel()
		data, err := c.ReceiveApp(ctx, p, ch)
		if err != nil && ctx.Err() == context.DeadlineExceeded && r.Context().Err() == nil {
			err = Errorf(http.StatusGatewayTimeout, "timeout", "nothing received on %s within %v", req.Channel, wait)
		}
		reply(w, map[string]any{"channel": req.Channel, "data": data}, mapErr(err))
	})
	s.Handle("POST /v1/rtt/{peer}/close", func(w http.ResponseWriter, r *http.Request) {
		var req chanReq
		if p, ch, ok := parse(w, r, &req); ok {
			reply(w, map[string]any{"channel": req.Channel, "open": false}, mapErr(c.CloseApp(p, ch)))
		}
	})
	s.Handle("POST /v1/rtt/{peer}/shutdown", func(w http.ResponseWriter, r *http.Request) {
		if !need(w, c, "the RTT transport") {
			return
		}
		p, err := peerOf(r)
		if err != nil {
			writeError(w, err)
			return
		}
		reply(w, map[string]any{"shutdown": true}, mapErr(c.Shutdown(r.Context(), p)))
	})
}

func (s *Server) eventRoutes() {
	s.Handle("GET /v1/events", s.sse)
	s.Handle("GET /v1/events/recent", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"events": s.be.Events.Recent(events.TypeFilter(r.URL.Query()["type"]...))})
	})
	s.mux.Handle("GET /metrics", s.auth(metricsHandler(s.be.Metrics).ServeHTTP))
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// Unknown paths still require the token, so probing reveals nothing.
		s.auth(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, Errorf(http.StatusNotFound, "not_found", "no endpoint %s %s", r.Method, r.URL.Path))
		}).ServeHTTP(w, r)
	})
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := Decode(r, v); err != nil {
		writeError(w, err)
		return false
	}
	return true
}

func reply(w http.ResponseWriter, v any, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// sse streams events as Server-Sent Events. ?type= (repeatable; a value
// ending in "." is a prefix) filters; Last-Event-ID (header) or ?last_id=
// resumes after that event if it is still retained.
func (s *Server) sse(w http.ResponseWriter, r *http.Request) { s.stream(w, r, true) }

// stream is the SSE loop; named adds an "event: <type>" line (the
// console's stream leaves it out so EventSource.onmessage sees them all).
func (s *Server) stream(w http.ResponseWriter, r *http.Request, named bool) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, Errorf(http.StatusInternalServerError, "internal", "streaming unsupported"))
		return
	}
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("last_id")
	}
	sub, resumed := s.be.Events.Subscribe(last, events.TypeFilter(r.URL.Query()["type"]...), 1024)
	defer sub.Close()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if last != "" && !resumed {
		fmt.Fprintf(w, ": last id %s no longer retained; events may have been missed\n\n", last)
	}
	fmt.Fprint(w, ": web4p2p event stream v1.0\n\n")
	fl.Flush()
	tick := time.NewTicker(sseKeepAlive)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.stop:
			return
		case <-tick.C:
			fmt.Fprint(w, ": keep-alive\n\n")
			fl.Flush()
		case e, ok := <-sub.C:
			if !ok {
				if sub.Dropped() {
					fmt.Fprint(w, ": too slow, disconnected; reconnect with Last-Event-ID to resume\n\n")
				}
				return
			}
			b, err := json.Marshal(e)
			if err != nil {
				continue
			}
			if named {
				fmt.Fprintf(w, "id: %s\nevent: %s\ndata: %s\n\n", e.ID, e.Type, b)
			} else {
				fmt.Fprintf(w, "id: %s\ndata: %s\n\n", e.ID, b)
			}
			fl.Flush()
		}
	}
}
