"""The milestone's transport API over one RTT session (SPEC §2):

    channel = transport.open_channel("control")
    transport.send(channel, b"...")
    raw = transport.receive(channel)
    transport.close_channel(channel)
    transport.shutdown()
"""

import base64
import binascii

from ._path import segment
from .errors import BadRequestError, ProtocolError

__all__ = ["Transport", "CHANNELS"]

CHANNELS = ("control", "state", "knowledge")


class Transport:
    """The RTT session with one peer, through the node's control API."""

    def __init__(self, node, peer_id):
        self._path = "/v1/rtt/%s/" % segment(peer_id, "peer_id")
        self.node = node
        self.peer = peer_id

    def __repr__(self):
        return "Transport(%r)" % self.peer

    def _post(self, op, body, **kw):
        return self.node._call("POST", self._path + op, body, **kw)

    @staticmethod
    def _channel(channel):
        if channel not in CHANNELS:
            raise BadRequestError("argument channel: must be %s (got %r)" % ("|".join(CHANNELS), channel), field="channel")
        return channel

    def open_channel(self, name):
        """Open the channel (control|state|knowledge); returns it for send
        and receive."""
        self._post("open", {"channel": self._channel(name)})
        return name

    def send(self, channel, data):
        """Send bytes (str is sent UTF-8) on an open channel.
        RTTBackpressureError when the peer's queue is full."""
        if isinstance(data, str):
            data = data.encode()
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise BadRequestError("argument data: want bytes or str, got %s" % type(data).__name__, field="data")
        data = bytes(data)
        self._post("send", {"channel": self._channel(channel), "data": base64.b64encode(data).decode()})

    def receive(self, channel, timeout=5.0):
        """The next message on channel (bytes), waiting at most timeout
        seconds (at most 60); Web4TimeoutError when nothing comes."""
        if not 0 < timeout <= 60:
            raise BadRequestError("argument timeout: must be within (0, 60] seconds (got %r)" % (timeout,), field="timeout")
        out = self._post("receive", {"channel": self._channel(channel), "timeout_ms": max(1, int(timeout * 1000))},
                         timeout=timeout + self.node.timeout)
        raw = out.get("data") if isinstance(out, dict) else None
        if raw is None:
            return b""
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, TypeError):
            raise ProtocolError("receive: data is not base64", field="data") from None

    def close_channel(self, channel):
        """Close the channel (both directions)."""
        self._post("close", {"channel": self._channel(channel)})

    def shutdown(self):
        """End the RTT session with the peer (a later call opens a new one)."""
        self._post("shutdown", {})
