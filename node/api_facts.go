package node

import (
	"errors"
	"net/http"
	"sort"

	"github.com/web4p2p/web4p2p/knowledge"
	"github.com/web4p2p/web4p2p/node/api"
	"github.com/web4p2p/web4p2p/protocols/cip"
)

// factView is one fact as the control API shows it.
type factView struct {
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

func (n *Node) factView(id string) (factView, bool) {
	f, r, ok := n.knowledge.Fact(id)
	if !ok {
		return factView{}, false
	}
	return factView{
		ID: f.ID, Statement: f.Statement, Domain: f.Domain, Proposer: f.Proposer, Status: r.Status.String(), Reason: r.Reason,
		Confirmers: nonNilStrings(r.Confirmers), Rejecters: nonNilStrings(r.Rejecters), Challengers: nonNilStrings(r.Challengers),
		Votes: len(n.knowledge.Votes(id)), ProposedAt: f.ProposedAt.UTC().Format("2006-01-02T15:04:05Z"),
	}, true
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// knowledgeRoutes are the control API endpoints of the knowledge base.
func (n *Node) knowledgeRoutes(srv *api.Server) {
	srv.Handle("GET /v1/facts", func(w http.ResponseWriter, r *http.Request) {
		out := []factView{}
		for _, fs := range n.knowledge.Facts() {
			if v, ok := n.factView(fs.Fact.ID); ok {
				out = append(out, v)
			}
		}
		sort.Slice(out, func(i, j int) bool {
			return out[i].ProposedAt < out[j].ProposedAt || (out[i].ProposedAt == out[j].ProposedAt && out[i].ID < out[j].ID)
		})
		api.WriteJSON(w, http.StatusOK, map[string]any{"facts": out})
	})
	srv.Handle("GET /v1/facts/{id}", func(w http.ResponseWriter, r *http.Request) {
		v, ok := n.factView(r.PathValue("id"))
		if !ok {
			api.WriteError(w, api.Errorf(http.StatusNotFound, "unknown_fact", "no fact %q", r.PathValue("id")))
			return
		}
		api.WriteJSON(w, http.StatusOK, v)
	})
	srv.Handle("POST /v1/facts", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Statement  string   `json:"statement"`
			Domain     string   `json:"domain"`
			Confidence float64  `json:"confidence"`
			Sources    []string `json:"sources"`
			Context    string   `json:"context"`
		}
		if err := api.Decode(r, &req); err != nil {
			api.WriteError(w, err)
			return
		}
		id, err := n.ProposeFact(r.Context(), cip.Fact{Statement: req.Statement, Domain: req.Domain, Confidence: req.Confidence, Sources: req.Sources, Context: req.Context}, cip.DMPTrace{})
		if err != nil {
			api.WriteError(w, knowledgeErr(err))
			return
		}
		v, _ := n.factView(id)
		api.WriteJSON(w, http.StatusOK, v)
	})
	srv.Handle("POST /v1/facts/{id}/vote", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Decision   string  `json:"decision"`
			Confidence float64 `json:"confidence"`
			Notes      string  `json:"notes"`
		}
		if err := api.Decode(r, &req); err != nil {
			api.WriteError(w, err)
			return
		}
		if req.Decision != "confirm" && req.Decision != "reject" {
			api.WriteError(w, api.Errorf(http.StatusBadRequest, "bad_request", "field \"decision\": want confirm|reject, got %q", req.Decision))
			return
		}
		id := r.PathValue("id")
		if err := n.VoteFact(r.Context(), id, req.Decision == "confirm", req.Confidence, req.Notes); err != nil {
			api.WriteError(w, knowledgeErr(err))
			return
		}
		v, _ := n.factView(id)
		api.WriteJSON(w, http.StatusOK, v)
	})
}

// knowledgeErr maps knowledge and builder errors to API errors.
func knowledgeErr(err error) error {
	switch {
	case errors.Is(err, knowledge.ErrUnknownFact):
		return api.Errorf(http.StatusNotFound, "unknown_fact", "%v", err)
	case errors.Is(err, knowledge.ErrExpired):
		return api.Errorf(http.StatusConflict, "expired", "%v", err)
	case errors.Is(err, cip.ErrBuild), errors.Is(err, knowledge.ErrInvalidFact), errors.Is(err, knowledge.ErrInvalidVote):
		return api.Errorf(http.StatusBadRequest, "payload_schema", "%v", err)
	}
	return err
}
