package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/web4p2p/web4p2p/internal/events"
)

func (s *Server) routes() {
	s.Handle("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.be.Status())
	})
	s.Handle("GET /v1/peers", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"peers": nonNil(s.be.Peers())})
	})
	s.Handle("POST /v1/connect", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Addr string `json:"addr"`
		}
		if !decode(w, r, &req) {
			return
		}
		if req.Addr == "" {
			writeError(w, Errorf(http.StatusBadRequest, "bad_request", "field \"addr\": required (a multiaddr ending in /p2p/<PeerID>)"))
			return
		}
		p, err := s.be.Connect(r.Context(), req.Addr)
		reply(w, p, err)
	})
	s.Handle("GET /v1/trust", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"trust": nonNil(s.be.Trust())})
	})
	s.Handle("POST /v1/trust/{peer}", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			State  string `json:"state"`
			Reason string `json:"reason"`
		}
		if !decode(w, r, &req) {
			return
		}
		if req.State == "" || req.Reason == "" {
			writeError(w, Errorf(http.StatusBadRequest, "bad_request", "fields \"state\" and \"reason\" are required (the reason is recorded in the trust ledger)"))
			return
		}
		e, err := s.be.SetTrust(r.Context(), r.PathValue("peer"), req.State, req.Reason)
		reply(w, e, err)
	})

	// RTT channel operations: the milestone's transport API for scripts.
	type chanReq struct {
		Channel   string `json:"channel"`
		Data      []byte `json:"data,omitempty"` // base64 in JSON
		TimeoutMS int    `json:"timeout_ms,omitempty"`
	}
	withChan := func(w http.ResponseWriter, r *http.Request, req *chanReq) bool {
		if !decode(w, r, req) {
			return false
		}
		if req.Channel == "" {
			writeError(w, Errorf(http.StatusBadRequest, "bad_request", "field \"channel\": required (control|state|knowledge)"))
			return false
		}
		return true
	}
	s.Handle("POST /v1/rtt/{peer}/open", func(w http.ResponseWriter, r *http.Request) {
		var req chanReq
		if withChan(w, r, &req) {
			reply(w, map[string]any{"channel": req.Channel, "open": true}, s.be.OpenChannel(r.Context(), r.PathValue("peer"), req.Channel))
		}
	})
	s.Handle("POST /v1/rtt/{peer}/send", func(w http.ResponseWriter, r *http.Request) {
		var req chanReq
		if withChan(w, r, &req) {
			reply(w, map[string]any{"sent": len(req.Data)}, s.be.Send(r.Context(), r.PathValue("peer"), req.Channel, req.Data))
		}
	})
	s.Handle("POST /v1/rtt/{peer}/receive", func(w http.ResponseWriter, r *http.Request) {
		var req chanReq
		if !withChan(w, r, &req) {
			return
		}
		wait := DefaultReceiveWait
		if req.TimeoutMS < 0 || time.Duration(req.TimeoutMS)*time.Millisecond > MaxReceiveWait {
			writeError(w, Errorf(http.StatusBadRequest, "bad_request", "field \"timeout_ms\": must be within [0,%d]", MaxReceiveWait.Milliseconds()))
			return
		}
		if req.TimeoutMS > 0 {
			wait = time.Duration(req.TimeoutMS) * time.Millisecond
		}
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		defer cancel()
		data, err := s.be.Receive(ctx, r.PathValue("peer"), req.Channel)
		if err != nil && ctx.Err() == context.DeadlineExceeded && r.Context().Err() == nil {
			err = Errorf(http.StatusGatewayTimeout, "timeout", "nothing received on %s within %v", req.Channel, wait)
		}
		reply(w, map[string]any{"channel": req.Channel, "data": data}, err)
	})
	s.Handle("POST /v1/rtt/{peer}/close", func(w http.ResponseWriter, r *http.Request) {
		var req chanReq
		if withChan(w, r, &req) {
			reply(w, map[string]any{"channel": req.Channel, "open": false}, s.be.CloseChannel(r.Context(), r.PathValue("peer"), req.Channel))
		}
	})
	s.Handle("POST /v1/rtt/{peer}/shutdown", func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string]any{"shutdown": true}, s.be.Shutdown(r.Context(), r.PathValue("peer")))
	})

	s.Handle("GET /v1/events", s.sse)
	s.Handle("GET /v1/events/recent", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"events": s.be.Events().Recent(events.TypeFilter(r.URL.Query()["type"]...))})
	})
	s.mux.Handle("GET /metrics", s.auth(metricsHandler(s.be.Metrics()).ServeHTTP))
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
func (s *Server) sse(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, Errorf(http.StatusInternalServerError, "internal", "streaming unsupported"))
		return
	}
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("last_id")
	}
	sub, resumed := s.be.Events().Subscribe(last, events.TypeFilter(r.URL.Query()["type"]...), 1024)
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
			fmt.Fprintf(w, "id: %s\nevent: %s\ndata: %s\n\n", e.ID, e.Type, b)
			fl.Flush()
		}
	}
}
