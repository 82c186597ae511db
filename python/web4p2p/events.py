"""The node's event stream (SSE, GET /v1/events) and its recent events.

parse_sse is the Server-Sent Events parser (WHATWG HTML §9.2) over lines;
EventStream iterates over a live stream as Event records.
"""

import json
import socket
import threading

from .errors import ProtocolError, Web4Error, Web4TimeoutError
from .records import Event, parse_list

__all__ = ["Events", "EventStream", "parse_sse"]

# MAX_EVENT bounds one event's data: the node's events are small, a larger
# one means a wrong server (and must not grow memory without limit).
MAX_EVENT = 1 << 20


def parse_sse(lines):
    """Yield the messages of an SSE stream given its lines (str, with or
    without the line ending) as dicts {"id", "event", "data"}: comments
    (": ...") and fields other than id/event/data/retry are skipped, a
    message is dispatched at a blank line, "data" lines join with "\\n",
    an id stays in force for later messages (as the spec's last event id).
    """
    last_id, event, data, size = "", "", [], 0
    for line in lines:
        line = line.rstrip("\r\n")
        if line == "":
            if data:
                yield {"id": last_id, "event": event or "message", "data": "\n".join(data)}
            event, data, size = "", [], 0
            continue
        if line.startswith(":"):
            continue
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            size += len(value)
            if size > MAX_EVENT:
                raise ProtocolError("event stream: one event over %d bytes" % MAX_EVENT, field="data")
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id" and "\0" not in value:
            last_id = value


class EventStream:
    """A live event stream: iterate for Event records; close() ends it
    (also from another thread). last_id is the id of the last event
    delivered, to resume with Events.stream(last_id=...)."""

    def __init__(self, resp, sock):
        # resp is the http.client reply, sock its socket (see Node._open).
        self._resp = resp
        self._sock = sock
        # reading is held while a readline runs: close() from another
        # thread then only shuts the socket down (which ends that read)
        # and leaves closing the reply to the reader.
        self._reading = threading.Lock()
        self._closed = False
        self.last_id = None
        self._messages = parse_sse(self._lines())

    def _lines(self):
        while True:
            with self._reading:
                if self._closed:
                    return
                try:
                    raw = self._resp.readline(MAX_EVENT + 1)
                except socket.timeout:
                    self._closed = True
                    self._resp.close()
                    raise Web4TimeoutError("event stream: nothing, not even a keep-alive, within the timeout") from None
                except (OSError, ValueError):  # shut down under us
                    raw = b""
                if not raw:
                    self._closed = True
                    self._resp.close()
                    return
            yield raw.decode("utf-8", errors="replace")

    def __iter__(self):
        return self

    def __next__(self):
        msg = next(self._messages)
        try:
            obj = json.loads(msg["data"])
        except ValueError as e:
            raise ProtocolError("event stream: data of event %r is not JSON: %s" % (msg["id"], e), field="data") from None
        ev = Event.parse(obj, "event")
        self.last_id = ev.id
        return ev

    def close(self):
        """End the stream; idempotent."""
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:  # already closed
            pass
        self._sock.close()
        if self._reading.acquire(blocking=False):  # no read running
            try:
                self._closed = True
                self._resp.close()
            finally:
                self._reading.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class Events:
    """node.events: recent events and the live stream."""

    def __init__(self, node):
        self._node = node

    def recent(self, *types):
        """The events the node retains, oldest first; types filter (a type
        ending in "." is a prefix, e.g. "web4.trust.")."""
        out = self._node._call("GET", "/v1/events/recent", query=[("type", t) for t in types])
        return parse_list(Event, out, "events")

    def stream(self, *types, last_id=None, timeout=None):
        """The live stream (an EventStream, best used with ``with``): events
        from now on, or after last_id if the node still retains it. timeout
        bounds each wait for data (the node sends a keep-alive every 15 s);
        None waits for ever."""
        query = [("type", t) for t in types]
        headers = {"Accept": "text/event-stream"}
        if last_id:
            headers["Last-Event-ID"] = last_id
        resp, sock = self._node._open("GET", "/v1/events", query=query, headers=headers, timeout=timeout)
        ctype = resp.getheader("Content-Type", "")
        if not ctype.startswith("text/event-stream"):
            resp.close()
            sock.close()
            raise Web4Error("GET /v1/events answered %r, not an event stream" % ctype, code="protocol")
        return EventStream(resp, sock)
