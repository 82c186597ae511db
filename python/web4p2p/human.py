"""node.human: the human's side of the node (SPEC §6): consent, questions
through the consent gate and pacing, held actions, decisions."""

import datetime

from ._path import segment
from .errors import BadRequestError
from .records import AskResult, HeldAction, PendingDecision, parse_list

__all__ = ["Human", "CONSENTS"]

CONSENTS = ("granted", "limited", "revoked")


class Human:
    """What an agent and its human do through the node."""

    def __init__(self, node):
        self._node = node

    def state(self):
        """The human-state vector and consent (GET /v1/human/state)."""
        return self._node._call("GET", "/v1/human/state")

    def consent(self, consent, *, scope=None, expires=None):
        """Set the human's consent: granted|limited|revoked, limited to the
        topics in scope, until expires (datetime or RFC 3339 string).
        Actions the gate holds may be released by it."""
        if consent not in CONSENTS:
            raise BadRequestError("argument consent: must be %s (got %r)" % ("|".join(CONSENTS), consent), field="consent")
        body = {"consent": consent}
        if scope:
            body["scope"] = list(scope)
        if expires is not None:
            if isinstance(expires, datetime.datetime):
                if expires.tzinfo is None:
                    raise BadRequestError("argument expires: a datetime needs a time zone", field="expires")
                expires = expires.isoformat()
            body["expires"] = expires
        return self._node._call("POST", "/v1/human/consent", body)

    def ask(self, topic, question, alternatives, *, cause=None):
        """Put a question to the human, through the consent gate first and
        then pacing. Never an answer: AskResult.status is "held" (the gate
        holds it: waiting for the human's consent) or "pending" (asked:
        waiting for the human's decision, see decisions())."""
        alternatives = list(alternatives)
        if len(alternatives) < 2:
            raise BadRequestError("argument alternatives: at least two are required, got %d" % len(alternatives),
                                  field="alternatives")
        body = {"topic": topic, "question": question, "alternatives": alternatives}
        if cause:
            body["cause"] = cause
        return AskResult.parse(self._node._call("POST", "/v1/human/ask", body), "ask result")

    def held(self):
        """The actions the consent gate holds."""
        return parse_list(HeldAction, self._node._call("GET", "/v1/human/held"), "held")

    def release(self, action_id):
        """The human's consent for this one held action: it is performed now."""
        return self._held(action_id, "release")

    def drop(self, action_id):
        """Discard a held action."""
        return self._held(action_id, "drop")

    def _held(self, action_id, action):
        return self._node._call("POST", "/v1/human/held/%s" % segment(action_id, "action_id"), {"action": action})

    def decisions(self):
        """The decisions asked of the human and not yet given."""
        return parse_list(PendingDecision, self._node._call("GET", "/v1/human/decisions"), "decisions")

    def decide(self, decision_id, choice, rationale, alternatives):
        """The human's HCP_DECISION on a pending decision: choice
        approve|reject with the rationale and the alternatives weighed;
        the msg_id of the signed decision."""
        if choice not in ("approve", "reject"):
            raise BadRequestError("argument choice: must be approve|reject (got %r)" % (choice,), field="choice")
        out = self._node._call("POST", "/v1/human/decisions/%s" % segment(decision_id, "decision_id"),
                               {"choice": choice, "rationale": rationale, "alternatives": list(alternatives)})
        return out.get("msg_id") if isinstance(out, dict) else None

    def intent(self, goal, topic, *, priority=None, context=None):
        """The human's HCP_INTENT to the agent (goal align|request|clarify|
        decide|resolve_conflict), through the consent gate."""
        body = {"goal": goal, "topic": topic}
        if priority:
            body["priority"] = priority
        if context:
            body["context"] = context
        return self._node._call("POST", "/v1/human/intent", body)
