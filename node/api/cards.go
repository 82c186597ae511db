package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/web4p2p/web4p2p/node/card"
	"github.com/web4p2p/web4p2p/protocols/agentcard"
)

// Cards is the node's agent card and capability discovery (node/card).
type Cards interface {
	// Signed returns the node's current signed card as JSON.
	Signed() ([]byte, error)
	// Find looks up the providers of capability in the DHT, fetches and
	// verifies each one's card, and lists them (card.ErrNoDHT without a
	// DHT). capability has been checked with card.CheckCapability.
	Find(ctx context.Context, capability string, limit int) (card.FindResult, error)
}

// Limits of the find endpoint.
const (
	// DefaultFindWait bounds GET /v1/find when it names no timeout_ms;
	// MaxFindWait is the most it may name.
	DefaultFindWait = 30 * time.Second
	MaxFindWait     = 2 * time.Minute
)

// HandlePublic registers a route that needs no token (the public agent
// card; an A2A endpoint doing its own authentication). The body limit
// still applies.
func (s *Server) HandlePublic(pattern string, h http.HandlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
		h(w, r)
	})
}

func (s *Server) cardRoutes() {
	c := s.be.Cards
	// The public card (A2A §8.2 well-known URI): what the node tells anyone
	// about itself, signed, so it needs no token. The signed bytes are sent
	// as they are, so a client verifies exactly what was signed.
	s.HandlePublic("GET "+agentcard.WellKnownPath, func(w http.ResponseWriter, r *http.Request) {
		if !need(w, c, "the agent card") {
			return
		}
		raw, err := c.Signed()
		if err != nil {
			writeError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache") // re-signed when the addresses change
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(raw)
	})
	s.Handle("GET /v1/find", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		name := q.Get("capability")
		if err := card.CheckCapability(name); err != nil {
			writeError(w, Errorf(http.StatusBadRequest, "bad_capability", "query \"capability\": %v", err))
			return
		}
		limit := card.DefaultFindResults
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > card.MaxFindResults {
				writeError(w, Errorf(http.StatusBadRequest, "bad_request", "query \"limit\": %q: want 1 to %d", v, card.MaxFindResults))
				return
			}
			limit = n
		}
		ms := 0
		if v := q.Get("timeout_ms"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				writeError(w, Errorf(http.StatusBadRequest, "bad_request", "query \"timeout_ms\": %q: not an integer", v))
				return
			}
			ms = n
		}
		wait, err := timeoutOf(ms, DefaultFindWait, MaxFindWait)
		if err != nil {
			writeError(w, err)
			return
		}
		if !need(w, c, "capability discovery") {
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		defer cancel()
		res, err := c.Find(ctx, name, limit)
		if errors.Is(err, card.ErrNoDHT) {
			err = Errorf(http.StatusServiceUnavailable, "no_dht", "%v", err)
		}
		reply(w, res, mapErr(err))
	})
}
