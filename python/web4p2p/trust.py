"""node.trust: the trust ledger (SPEC §5)."""

from ._path import segment
from .errors import BadRequestError
from .records import TrustEntry, parse_list

__all__ = ["Trust", "STATES"]

STATES = ("unknown", "untrusted", "probing", "trusted", "blacklisted")


class Trust:
    """Read the ledger; make the operator's transitions."""

    def __init__(self, node):
        self._node = node

    def list(self):
        """Every peer's trust record."""
        return parse_list(TrustEntry, self._node._call("GET", "/v1/trust"), "trust")

    def get(self, peer):
        """The record of peer (a PeerID or fingerprint), or None."""
        for e in self.list():
            if peer in (e.fingerprint, e.peer_id):
                return e
        return None

    def set(self, peer, state, reason):
        """The operator's transition of peer (PeerID or 64-hex fingerprint)
        to state, recorded with reason (SPEC §12: blacklist, distrust,
        demote, override). A refused transition raises OverrideRefusedError."""
        if state not in STATES:
            raise BadRequestError("argument state: must be %s (got %r)" % ("|".join(STATES), state), field="state")
        if not reason:
            raise BadRequestError("argument reason: required (it is recorded in the trust ledger)", field="reason")
        out = self._node._call("POST", "/v1/trust/%s" % segment(peer, "peer"), {"state": state, "reason": reason})
        return TrustEntry.parse(out, "trust entry")
