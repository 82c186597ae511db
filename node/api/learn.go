package api

import (
	"net/http"

	"github.com/web4p2p/web4p2p/node/learn"
	"github.com/web4p2p/web4p2p/protocols/lip"
	"github.com/web4p2p/web4p2p/protocols/lip/fetch"
)

// FetchError is the JSON body of a refused fetch: the API error plus the
// fetcher's typed reason ("forbidden_address", "too_large", ...).
type FetchError struct {
	Kind   string `json:"error"`
	Reason string `json:"reason"`
	Detail string `json:"detail"`
}

// learnRoutes are the LIP endpoints (SPEC §7).
func (s *Server) learnRoutes() {
	l := s.be.Learn
	s.Handle("POST /v1/lip/learn", func(w http.ResponseWriter, r *http.Request) {
		var body learn.Request
		if !decode(w, r, &body) || !need(w, l, "the LIP runtime") {
			return
		}
		if body.URI == "" && body.Query == "" {
			writeError(w, Errorf(http.StatusBadRequest, "bad_request", "field \"uri\": required (or query)"))
			return
		}
		res, err := l.Learn(r.Context(), body)
		if isFetchError(err) {
			// A refused or failed fetch is 422 fetch_refused with the
			// fetcher's reason.
			writeJSON(w, http.StatusUnprocessableEntity, FetchError{Kind: "fetch_refused", Reason: fetch.Reason(err), Detail: err.Error()})
			return
		}
		reply(w, res, mapErr(err))
	})
	s.Handle("GET /v1/lip/claims", func(w http.ResponseWriter, r *http.Request) {
		if !need(w, l, "the LIP runtime") {
			return
		}
		var st lip.State
		if q := r.URL.Query().Get("state"); q != "" {
			if err := st.UnmarshalText([]byte(q)); err != nil {
				writeError(w, Errorf(http.StatusBadRequest, "bad_request", "query parameter \"state\": must be pending|accepted|rejected|disputed (got %q)", q))
				return
			}
		}
		cs, err := l.Claims(st)
		reply(w, map[string]any{"claims": cs}, mapErr(err))
	})
}
