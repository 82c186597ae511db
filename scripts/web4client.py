#!/usr/bin/env python3
"""web4client — a Python (standard library only) client for a running
web4p2p node's control API.

It offers the milestone's transport API on top of the node's real RTT
sessions:

    import web4client
    node = web4client.connect("127.0.0.1:7401", token)          # or connect_data_dir(path)
    transport = node.transport(peer_id)
    channel = transport.open_channel("control")
    transport.send(channel, b"hello")
    raw = transport.receive(channel, timeout=5.0)
    transport.close_channel(channel)
    transport.shutdown()

Errors mirror the node's error model: RTTHandshakeError, RTTTransportError,
RTTBackpressureError, RTTReplayError, InvalidEnvelope, SignatureMismatch,
TrustViolation, PayloadSchemaError, ... all subclasses of Web4Error, raised
from the API's {"error": kind, "detail": ...} replies.
"""

import base64
import json
import os
import urllib.error
import urllib.request

__all__ = [
    "connect", "connect_data_dir", "Node", "Transport", "Web4Error",
    "RTTHandshakeError", "RTTTransportError", "RTTBackpressureError", "RTTReplayError",
    "InvalidEnvelope", "SignatureMismatch", "TimestampError", "ReplayError", "TrustViolation",
    "PayloadSchemaError", "ChannelClosed", "UnknownPeer", "Unauthorized", "BadRequest",
    "ReceiveTimeout", "NodeUnreachable",
]


class Web4Error(Exception):
    """Base of every error the client raises. .kind is the API's error kind."""

    kind = "internal"

    def __init__(self, detail, status=None):
        super().__init__(detail)
        self.detail = detail
        self.status = status


class RTTHandshakeError(Web4Error): kind = "rtt_handshake"
class RTTTransportError(Web4Error): kind = "rtt_transport"
class RTTBackpressureError(Web4Error): kind = "rtt_backpressure"
class RTTReplayError(Web4Error): kind = "rtt_replay"
class InvalidEnvelope(Web4Error): kind = "invalid_envelope"
class SignatureMismatch(Web4Error): kind = "signature_mismatch"
class TimestampError(Web4Error): kind = "timestamp"
class ReplayError(Web4Error): kind = "replay"
class TrustViolation(Web4Error): kind = "trust_violation"
class PayloadSchemaError(Web4Error): kind = "payload_schema"
class ChannelClosed(Web4Error): kind = "channel_closed"
class UnknownPeer(Web4Error): kind = "unknown_peer"
class Unauthorized(Web4Error): kind = "unauthorized"
class BadRequest(Web4Error): kind = "bad_request"
class ReceiveTimeout(Web4Error): kind = "timeout"
class NodeUnreachable(Web4Error): kind = "unreachable"

_KINDS = {c.kind: c for c in [
    RTTHandshakeError, RTTTransportError, RTTBackpressureError, RTTReplayError, InvalidEnvelope,
    SignatureMismatch, TimestampError, ReplayError, TrustViolation, PayloadSchemaError,
    ChannelClosed, UnknownPeer, Unauthorized, BadRequest, ReceiveTimeout,
]}


class Node:
    """A connection to one node's control API."""

    def __init__(self, api, token, timeout=30.0):
        self.base = "http://" + api
        self.token = token
        self.timeout = timeout

    def _call(self, method, path, body=None, timeout=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + self.token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout or self.timeout) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                err = json.loads(raw)
                kind, detail = err.get("error", "internal"), err.get("detail", "")
            except ValueError:
                kind, detail = "internal", raw.decode(errors="replace")
            raise _KINDS.get(kind, Web4Error)("%s: %s" % (kind, detail), e.code) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
            raise NodeUnreachable("node not reachable at %s: %s" % (self.base, e)) from None

    def status(self):
        return self._call("GET", "/v1/status")

    def peers(self):
        return self._call("GET", "/v1/peers")["peers"]

    def connect(self, multiaddr):
        return self._call("POST", "/v1/connect", {"addr": multiaddr})

    def trust(self):
        return self._call("GET", "/v1/trust")["trust"]

    def set_trust(self, peer, state, reason):
        return self._call("POST", "/v1/trust/" + peer, {"state": state, "reason": reason})

    def events(self, *types):
        q = "&".join("type=" + t for t in types)
        return self._call("GET", "/v1/events/recent" + ("?" + q if q else ""))["events"]

    def transport(self, peer_id):
        """The RTT transport (session) with peer_id."""
        return Transport(self, peer_id)


class Transport:
    """The milestone's transport API over one RTT session."""

    CHANNELS = ("control", "state", "knowledge")

    def __init__(self, node, peer_id):
        self.node = node
        self.peer = peer_id

    def _path(self, op):
        return "/v1/rtt/%s/%s" % (self.peer, op)

    def open_channel(self, name):
        if name not in self.CHANNELS:
            raise BadRequest("channel must be one of %s, got %r" % (", ".join(self.CHANNELS), name))
        self.node._call("POST", self._path("open"), {"channel": name})
        return name

    def send(self, channel, data):
        if isinstance(data, str):
            data = data.encode()
        self.node._call("POST", self._path("send"),
                        {"channel": channel, "data": base64.b64encode(bytes(data)).decode()})

    def receive(self, channel, timeout=5.0):
        ms = max(1, int(timeout * 1000))
        out = self.node._call("POST", self._path("receive"), {"channel": channel, "timeout_ms": ms},
                              timeout=timeout + 10)
        return base64.b64decode(out.get("data") or "")

    def close_channel(self, channel):
        self.node._call("POST", self._path("close"), {"channel": channel})

    def shutdown(self):
        self.node._call("POST", self._path("shutdown"), {})


def connect(api, token, timeout=30.0):
    """Connect to the control API at host:port with a bearer token."""
    return Node(api, token, timeout)


def connect_data_dir(data_dir, timeout=30.0):
    """Connect to the node running on data_dir (reads api.addr and api.token)."""
    with open(os.path.join(data_dir, "api.addr")) as f:
        api = f.read().strip()
    with open(os.path.join(data_dir, "api.token")) as f:
        token = f.read().strip()
    return Node(api, token, timeout)
