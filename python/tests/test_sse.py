"""Unit tests: the Server-Sent Events parser."""

import unittest

import web4p2p
from web4p2p.events import MAX_EVENT, parse_sse


class ParseSSE(unittest.TestCase):
    def test_messages(self):
        lines = [": web4p2p event stream v1.0", "", "id: 1", "event: web4.a", 'data: {"x":1}', "",
                 ": keep-alive", "", "data: a", "data:b", "", "id: 3", "data: c", "", "data: unterminated"]
        got = list(parse_sse(lines))
        self.assertEqual(got, [
            {"id": "1", "event": "web4.a", "data": '{"x":1}'},
            {"id": "1", "event": "message", "data": "a\nb"},  # id stays in force; data lines join
            {"id": "3", "event": "message", "data": "c"},
        ])

    def test_line_endings_and_fields(self):
        got = list(parse_sse(["id: 7\r\n", "retry: 10\r\n", "bogus: x\r\n", "data\r\n", "data: y\r\n", "\r\n"]))
        self.assertEqual(got, [{"id": "7", "event": "message", "data": "\ny"}])

    def test_id_with_nul_ignored(self):
        got = list(parse_sse(["id: a\0b", "data: x", ""]))
        self.assertEqual(got[0]["id"], "")

    def test_oversized_event(self):
        lines = ["data: " + "x" * 1024] * (MAX_EVENT // 1024 + 1) + [""]
        with self.assertRaises(web4p2p.ProtocolError):
            list(parse_sse(lines))


if __name__ == "__main__":
    unittest.main()
