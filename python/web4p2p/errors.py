"""The error model of the control API as Python exceptions.

Every error the package raises is a Web4Error. An error the node answered
carries the API's stable code (``.code``, e.g. ``"bad_request"``), the
request field at fault when the node names one (``.field``), the node's
explanation (``.detail``) and the HTTP status (``.status``). The class is
chosen by the code, so callers can catch the milestone's names
(RTTHandshakeError, PayloadSchemaError, ...) or test ``.code``.
"""

import json

__all__ = [
    "Web4Error", "NodeUnreachable", "ProtocolError",
    "RTTHandshakeError", "RTTTransportError", "RTTBackpressureError", "RTTReplayError",
    "InvalidEnvelopeError", "SignatureMismatchError", "TimestampError", "ReplayError",
    "TrustViolationError", "PayloadSchemaError", "ChannelClosedError", "FrameTooLargeError",
    "BadRequestError", "UnauthorizedError", "NotFoundError", "UnknownPeerError", "UnknownFactError",
    "ConflictError", "OverrideRefusedError", "ExpiredError", "BackpressureError",
    "UnavailableError", "FetchRefusedError", "Web4TimeoutError", "error_from_response",
]


class Web4Error(Exception):
    """Base of every error of the package.

    code:   the API's error code ("internal" when the node named none)
    detail: the node's explanation for a person
    field:  the request field at fault, or None
    status: the HTTP status, or None when no reply came
    """

    code = "internal"

    def __init__(self, detail, *, code=None, field=None, status=None, reason=None):
        if code is not None:
            self.code = code
        self.detail = detail
        self.field = field
        self.status = status
        self.reason = reason
        msg = "%s: %s" % (self.code, detail)
        if field and ('"%s"' % field) not in detail:
            msg += " (field %s)" % field
        super().__init__(msg)


class NodeUnreachable(Web4Error):
    """No node answered at the API address (not running, wrong address)."""
    code = "unreachable"


class ProtocolError(Web4Error):
    """The node's reply is not what the API promises (a client/node mismatch)."""
    code = "protocol"


# The milestone's transport errors (RTT).
class RTTHandshakeError(Web4Error): code = "rtt_handshake"
class RTTTransportError(Web4Error): code = "rtt_transport"
class RTTBackpressureError(Web4Error): code = "rtt_backpressure"
class RTTReplayError(Web4Error): code = "rtt_replay"
class ChannelClosedError(Web4Error): code = "channel_closed"
class FrameTooLargeError(Web4Error): code = "frame_too_large"


# The milestone's envelope errors (CIP); the validator's error model, SPEC §3.3.
class InvalidEnvelopeError(Web4Error): code = "invalid_envelope"
class SignatureMismatchError(Web4Error): code = "signature_mismatch"
class TimestampError(Web4Error): code = "timestamp"
class ReplayError(Web4Error): code = "replay"
class TrustViolationError(Web4Error): code = "trust_violation"
class PayloadSchemaError(Web4Error): code = "payload_schema"


# Request errors.
class BadRequestError(Web4Error):
    """The node refused the request as malformed; .field names what."""
    code = "bad_request"


class UnauthorizedError(Web4Error):
    """Missing or wrong bearer token (api.token in the data dir)."""
    code = "unauthorized"


class NotFoundError(Web4Error): code = "not_found"
class UnknownPeerError(NotFoundError): code = "unknown_peer"
class UnknownFactError(NotFoundError): code = "unknown_fact"
class ConflictError(Web4Error): code = "conflict"
class OverrideRefusedError(ConflictError): code = "override_refused"
class ExpiredError(ConflictError): code = "expired"
class BackpressureError(Web4Error): code = "backpressure"
class UnavailableError(Web4Error): code = "unavailable"


class FetchRefusedError(Web4Error):
    """LIP refused or failed the fetch; .reason is the fetcher's
    (forbidden_address, too_large, ...)."""
    code = "fetch_refused"


class Web4TimeoutError(Web4Error, TimeoutError):
    """The node's wait ran out (nothing received, no INTENT reply); also a
    builtin TimeoutError."""
    code = "timeout"


def _classes():
    out = {}
    stack = [Web4Error]
    while stack:
        c = stack.pop()
        out.setdefault(c.code, c)
        stack.extend(c.__subclasses__())
    return out


# Codes the API sends that share a class with another code.
_ALIASES = {
    "bad_peer": BadRequestError, "bad_channel": BadRequestError, "bad_multiaddr": BadRequestError,
    "invalid_state": BadRequestError, "body_too_large": BadRequestError, "csrf": BadRequestError,
    "hold_full": BackpressureError, "queue_full": UnavailableError, "no_lip": UnavailableError,
}


def error_class(code):
    """The exception class for an API error code (Web4Error if unknown)."""
    c = _classes().get(code)
    if c is not None:
        return c
    return _ALIASES.get(code, Web4Error)


def error_from_response(status, body):
    """The Web4Error for a non-2xx reply: status and raw body bytes.

    The API's error body is {"error": code, "detail": text, "field"?: name,
    "reason"?: fetch reason}; any other body (a proxy's page, garbage) is
    kept as the detail of an error whose code is "http_<status>".
    """
    text = body.decode("utf-8", errors="replace") if isinstance(body, (bytes, bytearray)) else str(body)
    try:
        obj = json.loads(text)
    except ValueError:
        obj = None
    if not isinstance(obj, dict) or not isinstance(obj.get("error"), str) or not obj["error"]:
        return Web4Error(text.strip()[:500] or "HTTP %d with an empty body" % status,
                         code="http_%d" % status, status=status)
    code = obj["error"]
    detail = obj.get("detail")
    field = obj.get("field")
    reason = obj.get("reason")
    return error_class(code)(
        detail if isinstance(detail, str) else "",
        code=code,
        field=field if isinstance(field, str) and field else None,
        status=status,
        reason=reason if isinstance(reason, str) and reason else None,
    )
