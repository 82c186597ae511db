package api

import (
	"net/http"
	"sort"

	"github.com/web4p2p/web4p2p/protocols/cip"
)

// FactView is one fact as the control API shows it.
type FactView struct {
	ID          string   `json:"fact_id"`
	Statement   string   `json:"statement"`
	Domain      string   `json:"domain"`
	Proposer    string   `json:"proposer"`
	Status      string   `json:"status"`
	Reason      string   `json:"reason,omitempty"`
	Confirmers  []string `json:"confirmers"`
	Rejecters   []string `json:"rejecters"`
	Challengers []string `json:"challengers"`
	Votes       int      `json:"votes"`
	ProposedAt  string   `json:"proposed_at"`
}

func factView(fs Facts, id string) (FactView, bool) {
	f, r, ok := fs.Fact(id)
	if !ok {
		return FactView{}, false
	}
	return FactView{
		ID: f.ID, Statement: f.Statement, Domain: f.Domain, Proposer: f.Proposer, Status: r.Status.String(), Reason: r.Reason,
		Confirmers: nonNil(r.Confirmers), Rejecters: nonNil(r.Rejecters), Challengers: nonNil(r.Challengers),
		Votes: len(fs.Votes(id)), ProposedAt: f.ProposedAt.UTC().Format("2006-01-02T15:04:05Z"),
	}, true
}

// factRoutes are the endpoints of the knowledge base (SPEC §8).
func (s *Server) factRoutes() {
	fs := s.be.Facts
	s.Handle("GET /v1/facts", func(w http.ResponseWriter, r *http.Request) {
		if !need(w, fs, "the knowledge base") {
			return
		}
		out := []FactView{}
		for _, st := range fs.Facts() {
			if v, ok := factView(fs, st.Fact.ID); ok {
				out = append(out, v)
			}
		}
		sort.Slice(out, func(i, j int) bool {
			return out[i].ProposedAt < out[j].ProposedAt || (out[i].ProposedAt == out[j].ProposedAt && out[i].ID < out[j].ID)
		})
		writeJSON(w, http.StatusOK, map[string]any{"facts": out})
	})
	s.Handle("GET /v1/facts/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !need(w, fs, "the knowledge base") {
			return
		}
		v, ok := factView(fs, r.PathValue("id"))
		if !ok {
			writeError(w, Errorf(http.StatusNotFound, "unknown_fact", "no fact %q", r.PathValue("id")))
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
	s.Handle("POST /v1/facts", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Statement  string   `json:"statement"`
			Domain     string   `json:"domain"`
			Confidence float64  `json:"confidence"`
			Sources    []string `json:"sources"`
			Context    string   `json:"context"`
		}
		if !decode(w, r, &req) || !need(w, fs, "the knowledge base") {
			return
		}
		id, err := fs.ProposeFact(r.Context(), cip.Fact{Statement: req.Statement, Domain: req.Domain, Confidence: req.Confidence, Sources: req.Sources, Context: req.Context}, cip.DMPTrace{})
		if err != nil {
			writeError(w, mapErr(err))
			return
		}
		v, _ := factView(fs, id)
		writeJSON(w, http.StatusOK, v)
	})
	s.Handle("POST /v1/facts/{id}/vote", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Decision   string  `json:"decision"`
			Confidence float64 `json:"confidence"`
			Notes      string  `json:"notes"`
		}
		if !decode(w, r, &req) || !need(w, fs, "the knowledge base") {
			return
		}
		if req.Decision != "confirm" && req.Decision != "reject" {
			writeError(w, Errorf(http.StatusBadRequest, "bad_request", "field \"decision\": want confirm|reject, got %q", req.Decision))
			return
		}
		id := r.PathValue("id")
		if err := fs.VoteFact(r.Context(), id, req.Decision == "confirm", req.Confidence, req.Notes); err != nil {
			writeError(w, mapErr(err))
			return
		}
		v, _ := factView(fs, id)
		writeJSON(w, http.StatusOK, v)
	})
}
