"""The connection to one node's control API (SPEC §12)."""

import http.client
import json
import os
import urllib.parse

from .errors import BadRequestError, NodeUnreachable, ProtocolError, UnauthorizedError, error_from_response
from .events import Events
from ._path import segment
from .facts import Facts
from .human import Human
from .records import IntentReply, Peer, Status, parse_list
from .transport import Transport
from .trust import Trust

__all__ = ["Node", "connect", "default_data_dir"]

# The data directory's files the node writes for its clients (node/wire.go,
# node/api/token.go).
API_ADDR_FILE = "api.addr"
TOKEN_FILE = "api.token"

# CIP INTENT goals and priorities (SPEC §4.1), checked before sending so
# a typo fails here naming the argument.
INTENT_GOALS = ("verify_knowledge", "ask", "learn", "propose_solution", "test_hypothesis")
PRIORITIES = ("low", "normal", "high")

# DEFAULT as a request's timeout means the Node's.
DEFAULT = object()


def default_data_dir():
    """The data directory the CLI uses by default: $WEB4P2P_DATA_DIR,
    $WEB4P2P_HOME, else ~/.web4p2p."""
    for var in ("WEB4P2P_DATA_DIR", "WEB4P2P_HOME"):
        if os.environ.get(var):
            return os.environ[var]
    return os.path.join(os.path.expanduser("~"), ".web4p2p")


def _read(path, what):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError as e:
        raise NodeUnreachable("no %s at %s (%s): is the node started with this data dir ('web4p2p start --data-dir %s')?"
                              % (what, path, e.strerror or e, os.path.dirname(path))) from None


def connect(data_dir=None, *, api=None, token=None, token_file=None, timeout=30.0):
    """Connect to a running node, as the CLI does: its address from
    <data_dir>/api.addr (or api="host:port") and its bearer token from
    <data_dir>/api.token (or token_file, or token). data_dir defaults to
    default_data_dir(). Nothing is sent yet; the first call reaches the node.
    """
    if data_dir is None and (api is None or (token is None and token_file is None)):
        data_dir = default_data_dir()
    if api is None:
        api = _read(os.path.join(data_dir, API_ADDR_FILE), "API address")
    if token is None:
        token = _read(token_file or os.path.join(data_dir, TOKEN_FILE), "API token")
    return Node(api, token, timeout=timeout)


class Node:
    """One node's control API. Areas: transport(peer) (the milestone's RTT
    API), facts, trust, human, events; and status, peers, connect,
    send_intent, why, learn."""

    def __init__(self, api, token, timeout=30.0):
        host, port = _split_hostport(api)
        self.api = api
        self._host, self._port = host, port
        self._token = token
        self.timeout = timeout
        self.facts = Facts(self)
        self.trust = Trust(self)
        self.human = Human(self)
        self.events = Events(self)

    def __repr__(self):
        return "Node(%r)" % self.api

    # -- HTTP ------------------------------------------------------------

    def _open(self, method, path, body=None, query=None, headers=None, timeout=DEFAULT):
        """Send a request; the response (status checked) and its socket.
        timeout: seconds for each socket operation, None for no limit,
        DEFAULT for the node's timeout."""
        if query:
            path += "?" + urllib.parse.urlencode(query)
        data = None if body is None else json.dumps(body).encode()
        hdrs = {"Authorization": "Bearer " + self._token, "Accept": "application/json"}
        if data is not None:
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout if timeout is DEFAULT else timeout)
        try:
            conn.request(method, path, body=data, headers=hdrs)
            # getresponse hands a reply without a length (a stream) the
            # socket and forgets it; keep it so a stream can be shut down.
            sock = conn.sock
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            raise NodeUnreachable("node not reachable at %s: %s (is it running?)" % (self.api, e)) from None
        if resp.status // 100 != 2:
            try:
                raw = resp.read()
            except (OSError, http.client.HTTPException):
                raw = b""
            conn.close()
            err = error_from_response(resp.status, raw)
            if isinstance(err, UnauthorizedError):
                err.detail += " (check the token: api.token in the node's data dir)"
            raise err
        return resp, sock

    def _call(self, method, path, body=None, query=None, timeout=DEFAULT):
        """One JSON request; the decoded reply."""
        resp, sock = self._open(method, path, body=body, query=query, timeout=timeout)
        try:
            raw = resp.read()
        except (OSError, http.client.HTTPException) as e:
            raise NodeUnreachable("node at %s closed the reply to %s %s: %s" % (self.api, method, path, e)) from None
        finally:
            resp.close()
            sock.close()
        try:
            return json.loads(raw or b"null")
        except ValueError as e:
            raise ProtocolError("%s %s: reply is not JSON: %s" % (method, path, e)) from None

    # -- node ------------------------------------------------------------

    def status(self):
        """This node: peer_id, fingerprint, addrs, presence, version, ..."""
        return Status.parse(self._call("GET", "/v1/status"), "status")

    def peers(self):
        """The peers: connection, RTT session, CIP readiness, trust state."""
        return parse_list(Peer, self._call("GET", "/v1/peers"), "peers")

    def connect(self, addr):
        """Dial a peer: a multiaddr ending in /p2p/<PeerID>, or a bare
        PeerID (its addresses are looked up in the DHT)."""
        return Peer.parse(self._call("POST", "/v1/connect", {"addr": addr}), "peer")

    def transport(self, peer_id):
        """The milestone's transport API over the RTT session with peer_id."""
        return Transport(self, peer_id)

    def send_intent(self, peer_id, goal, topic, *, priority=None, context=None, timeout=None):
        """Send a CIP INTENT to peer_id and wait for its reply (accept, or
        defer with a reason). goal: verify_knowledge|ask|learn|
        propose_solution|test_hypothesis. timeout (seconds, at most 60)
        bounds the wait; Web4TimeoutError when no reply comes."""
        _one_of("goal", goal, INTENT_GOALS)
        if priority is not None:
            _one_of("priority", priority, PRIORITIES)
        body = {"goal": goal, "topic": topic}
        if priority:
            body["priority"] = priority
        if context:
            body["context"] = context
        wait = DEFAULT
        if timeout is not None:
            body["timeout_ms"] = max(1, int(timeout * 1000))
            wait = timeout + self.timeout
        out = self._call("POST", "/v1/cip/%s/intent" % segment(peer_id, "peer_id"), body, timeout=wait)
        return IntentReply.parse(out, "intent reply")

    def why(self, id):
        """The causal chain behind a fact, message or decision, causes first."""
        out = self._call("GET", "/v1/why/%s" % segment(id, "id"))
        if not isinstance(out, dict) or not isinstance(out.get("chain"), list):
            raise ProtocolError("why: reply has no array 'chain'", field="chain")
        return out["chain"]

    def learn(self, uri, statements=None):
        """Learn from a URL (LIP): the fetch and its claims with their first
        decision. A refused fetch raises FetchRefusedError (.reason)."""
        body = {"uri": uri}
        if statements:
            body["statements"] = list(statements)
        return self._call("POST", "/v1/lip/learn", body)


def _split_hostport(api):
    u = urllib.parse.urlsplit("//" + api.strip().removeprefix("http://").rstrip("/"))
    try:
        port = u.port
    except ValueError:
        port = None
    if not u.hostname or port is None:
        raise BadRequestError("API address %r: want host:port (e.g. 127.0.0.1:7401)" % api, field="api")
    return u.hostname, port


def _one_of(name, value, allowed):
    if value not in allowed:
        raise BadRequestError("argument %s: must be %s (got %r)" % (name, "|".join(allowed), value), field=name)
