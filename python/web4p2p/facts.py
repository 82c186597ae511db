"""node.facts: the knowledge base and its quorum (SPEC §8)."""

from ._path import segment
from .errors import BadRequestError
from .records import Fact, parse_list

__all__ = ["Facts"]

DECISIONS = ("confirm", "reject")


class Facts:
    """Propose and vote on facts; query the accepted ones."""

    def __init__(self, node):
        self._node = node

    def propose(self, statement, domain, confidence, *, sources=None, context=None):
        """Propose a fact to the mesh (FACT_PROPOSE); the Fact as proposed:
        peers vote, the quorum accepts or rejects it later."""
        body = {"statement": statement, "domain": domain, "confidence": confidence}
        if sources:
            body["sources"] = list(sources)
        if context:
            body["context"] = context
        return Fact.parse(self._node._call("POST", "/v1/facts", body), "fact")

    def vote(self, fact_id, decision, confidence, *, notes=None):
        """Vote confirm|reject on a fact; the Fact after the vote."""
        if decision not in DECISIONS:
            raise BadRequestError("argument decision: must be confirm|reject (got %r)" % (decision,), field="decision")
        body = {"decision": decision, "confidence": confidence}
        if notes:
            body["notes"] = notes
        return Fact.parse(self._node._call("POST", "/v1/facts/%s/vote" % segment(fact_id, "fact_id"), body), "fact")

    def get(self, fact_id):
        """One fact, any status; UnknownFactError if the node has none."""
        return Fact.parse(self._node._call("GET", "/v1/facts/%s" % segment(fact_id, "fact_id")), "fact")

    def list(self):
        """Every fact the node knows, any status, oldest first."""
        return parse_list(Fact, self._node._call("GET", "/v1/facts"), "facts")

    def query(self, query="", *, domain=None, provenance=False):
        """The knowledge base: accepted facts only (what the quorum
        accepted), each with its proposer and confirmers; query's words
        must all be in the statement (case-insensitive), domain must match.
        provenance=True adds each fact's causal chain (``fact.provenance``,
        Node.why) — one more request per fact."""
        words = query.lower().split()
        out = []
        for f in self.list():
            if f.status != "accepted" or (domain is not None and f.domain != domain):
                continue
            statement = f.statement.lower()
            if all(w in statement for w in words):
                out.append(f)
        if provenance:
            for f in out:
                f["provenance"] = self._node.why(f.fact_id)
        return out

