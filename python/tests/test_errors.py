"""Unit tests: API error bodies become the right exceptions."""

import json
import unittest

import web4p2p
from web4p2p.errors import error_class, error_from_response


def body(**kw):
    return json.dumps(kw).encode()


class ErrorFromResponse(unittest.TestCase):
    def test_code_field_detail_status(self):
        e = error_from_response(400, body(error="bad_request", detail='field "addr": required', field="addr"))
        self.assertIsInstance(e, web4p2p.BadRequestError)
        self.assertEqual((e.code, e.field, e.detail, e.status), ("bad_request", "addr", 'field "addr": required', 400))
        self.assertEqual(str(e), 'bad_request: field "addr": required')

    def test_field_not_in_detail_is_named_in_message(self):
        e = error_from_response(400, body(error="invalid_state", detail="must be within [0,100]", field="clarity"))
        self.assertIn("field clarity", str(e))

    def test_milestone_names(self):
        for code, cls in {
            "rtt_handshake": web4p2p.RTTHandshakeError, "rtt_transport": web4p2p.RTTTransportError,
            "rtt_backpressure": web4p2p.RTTBackpressureError, "rtt_replay": web4p2p.RTTReplayError,
            "invalid_envelope": web4p2p.InvalidEnvelopeError, "signature_mismatch": web4p2p.SignatureMismatchError,
            "timestamp": web4p2p.TimestampError, "trust_violation": web4p2p.TrustViolationError,
            "payload_schema": web4p2p.PayloadSchemaError, "channel_closed": web4p2p.ChannelClosedError,
            "unknown_peer": web4p2p.UnknownPeerError, "unknown_fact": web4p2p.UnknownFactError,
            "override_refused": web4p2p.OverrideRefusedError, "unauthorized": web4p2p.UnauthorizedError,
            "timeout": web4p2p.Web4TimeoutError, "fetch_refused": web4p2p.FetchRefusedError,
            "bad_peer": web4p2p.BadRequestError, "hold_full": web4p2p.BackpressureError,
        }.items():
            with self.subTest(code=code):
                e = error_from_response(409, body(error=code, detail="d"))
                self.assertIs(type(e), cls)
                self.assertEqual(e.code, code)
                self.assertIsInstance(e, web4p2p.Web4Error)

    def test_hierarchy(self):
        self.assertTrue(issubclass(web4p2p.UnknownPeerError, web4p2p.NotFoundError))
        self.assertTrue(issubclass(web4p2p.Web4TimeoutError, TimeoutError))
        self.assertTrue(issubclass(web4p2p.OverrideRefusedError, web4p2p.ConflictError))

    def test_unknown_code_keeps_it(self):
        e = error_from_response(418, body(error="teapot", detail="short and stout"))
        self.assertIs(type(e), web4p2p.Web4Error)
        self.assertEqual(e.code, "teapot")
        self.assertIs(error_class("teapot"), web4p2p.Web4Error)

    def test_fetch_reason(self):
        e = error_from_response(422, body(error="fetch_refused", reason="forbidden_address", detail="10.0.0.1"))
        self.assertEqual(e.reason, "forbidden_address")

    def test_not_an_api_body(self):
        for raw in (b"<html>bad gateway</html>", b"", b"[1,2]", b'{"error": 5}', b'{"error": ""}', b"\xff\xfe"):
            with self.subTest(raw=raw):
                e = error_from_response(502, raw)
                self.assertEqual(e.code, "http_502")
                self.assertEqual(e.status, 502)
                self.assertTrue(e.detail)

    def test_wrong_member_types_are_ignored(self):
        e = error_from_response(400, body(error="bad_request", detail=["x"], field=3, reason={}))
        self.assertEqual((e.detail, e.field, e.reason), ("", None, None))


if __name__ == "__main__":
    unittest.main()
