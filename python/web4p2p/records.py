"""What the node answers, as records.

A record is the JSON object the API sent (a dict: every member the node
sent is kept, also ones this version of the package does not know) whose
members can also be read as attributes (``fact.confirmers``). Parsing
checks the members the package relies on and raises ProtocolError naming
the first that is missing or of the wrong type.
"""

from .errors import ProtocolError

__all__ = [
    "Record", "Status", "Peer", "TrustEntry", "Fact", "IntentReply", "AskResult",
    "HeldAction", "PendingDecision", "Event", "parse_list",
]

_TYPES = {str: "a string", bool: "a boolean", list: "an array", dict: "an object",
          (int, float): "a number", int: "an integer"}


class Record(dict):
    """A JSON object from the node; members are also attributes."""

    # name -> type of the members every reply has; optional ones default.
    required = {}
    optional = {}

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            if name in type(self).optional:
                return None
            raise AttributeError("%s has no member %r" % (type(self).__name__, name)) from None

    @classmethod
    def parse(cls, obj, where=None):
        """obj (decoded JSON) checked as a cls; where names it in errors."""
        where = where or cls.__name__
        if not isinstance(obj, dict):
            raise ProtocolError("%s: want a JSON object, got %s" % (where, _kind(obj)), field=where)
        for name, typ in cls.required.items():
            if name not in obj:
                raise ProtocolError("%s.%s: missing" % (where, name), field=name)
            _check(where, name, obj[name], typ)
        for name, typ in cls.optional.items():
            if obj.get(name) is not None:
                _check(where, name, obj[name], typ)
        return cls(obj)

    def __repr__(self):
        return "%s(%s)" % (type(self).__name__, dict.__repr__(self))


def _kind(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    for t, name in _TYPES.items():
        if isinstance(v, t):
            return name
    return type(v).__name__


def _check(where, name, v, typ):
    ok = isinstance(v, typ) and not (typ in (int, (int, float)) and isinstance(v, bool))
    if not ok:
        raise ProtocolError("%s.%s: want %s, got %s" % (where, name, _TYPES.get(typ, typ), _kind(v)), field=name)


def parse_list(cls, obj, member):
    """The array obj[member] (obj is a reply object), each item a cls."""
    if not isinstance(obj, dict) or not isinstance(obj.get(member), list):
        raise ProtocolError("reply: want an object with an array %r, got %s" % (member, _kind(obj)), field=member)
    return [cls.parse(item, "%s[%d]" % (member, i)) for i, item in enumerate(obj[member])]


class Status(Record):
    """GET /v1/status: this node."""
    required = {"peer_id": str, "fingerprint": str, "addrs": list}
    optional = {"agent_id": str, "version": str, "peers": int, "presence": str, "mission": list}


class Peer(Record):
    """One peer of GET /v1/peers: connection, RTT session, CIP readiness, trust."""
    required = {"peer_id": str, "connected": bool, "trust": str}
    optional = {"agent_id": str, "fingerprint": str, "rtt_session": bool, "cip_ready": bool,
                "addrs": list, "conns": list, "presence": str}


class TrustEntry(Record):
    """One record of the trust ledger (SPEC §5)."""
    required = {"fingerprint": str, "state": str}
    optional = {"peer_id": str, "since": str, "last_event": str, "last_cause": str, "anchor": bool}


class Fact(Record):
    """One fact of the knowledge base with its quorum outcome (SPEC §8).

    status is proposed|accepted|rejected|disputed|...; confirmers, rejecters
    and challengers are the fingerprints of the voters. Facts from
    Facts.query(provenance=True) also carry ``provenance``: the causal
    chain of the fact (Node.why).
    """
    required = {"fact_id": str, "statement": str, "domain": str, "proposer": str, "status": str,
                "confirmers": list}
    optional = {"rejecters": list, "challengers": list, "votes": int, "proposed_at": str,
                "reason": str, "provenance": list}


class IntentReply(Record):
    """A peer's reply to a CIP INTENT: decision accept or defer (with reason)."""
    required = {"peer": str, "decision": str}
    optional = {"reason": str, "reply_to": str}

    @property
    def accepted(self):
        return self["decision"] == "accept"


class AskResult(Record):
    """What became of a question to the human. Never an answer: status
    "held" (the consent gate holds it until the human consents) or
    "pending" (asked; paced says how the prompt was paced)."""
    required = {"id": str, "status": str}
    optional = {"paced": str, "paced_reason": str}

    @property
    def held(self):
        return self["status"] == "held"

    @property
    def waiting_for_human(self):
        """Always true: the human answers later, with a decision."""
        return True


class HeldAction(Record):
    """An action the consent gate holds until the human releases or drops it."""
    required = {"id": str, "kind": str, "topic": str}
    optional = {"priority": str, "causes": list, "held_at": str, "expires": str}


class PendingDecision(Record):
    """A decision the agent asked the human for and the human has not given."""
    required = {"id": str, "question": str, "alternatives": list}
    optional = {"topic": str, "cause": str}


class Event(Record):
    """One event of the event contract v1.0 (SPEC §11): CloudEvents-style
    id, type, source, time, data, causes."""
    required = {"id": str, "type": str}
    optional = {"data": dict, "specversion": str, "source": str, "time": str, "subject": str,
                "web4contract": str, "causes": list}
