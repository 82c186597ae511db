"""Unit tests of the HTTP side against a loopback server that answers
what each test tells it to (the end-to-end tests in test_e2e.py use real
nodes)."""

import http.server
import json
import os
import tempfile
import threading
import unittest

import web4p2p

TOKEN = "t" * 64


class Canned(http.server.BaseHTTPRequestHandler):
    """Answers each request with the server's next reply and records it."""

    def log_message(self, *args):
        pass

    def _serve(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.server.seen.append((self.command, self.path, dict(self.headers), self.rfile.read(n)))
        status, ctype, body = self.server.replies.pop(0)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if isinstance(body, list):  # an event stream: lines, then wait until the client goes
            self.end_headers()
            for chunk in body:
                self.wfile.write(chunk.encode())
                self.wfile.flush()
            self.server.streaming.set()
            self.rfile.read(1)
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _serve


class ClientTest(unittest.TestCase):
    def setUp(self):
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Canned)
        self.srv.daemon_threads = True
        self.srv.seen, self.srv.replies, self.srv.streaming = [], [], threading.Event()
        self.thread = threading.Thread(target=self.srv.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.api = "127.0.0.1:%d" % self.srv.server_address[1]
        self.node = web4p2p.connect(api=self.api, token=TOKEN, timeout=5)

    def tearDown(self):
        self.srv.shutdown()
        self.srv.server_close()
        self.thread.join()

    def reply(self, status, obj, ctype="application/json"):
        self.srv.replies.append((status, ctype, obj if isinstance(obj, (bytes, list)) else json.dumps(obj).encode()))

    def test_bearer_token_and_body(self):
        self.reply(200, {"fact_id": "f", "statement": "s", "domain": "d", "proposer": "p", "status": "proposed", "confirmers": []})
        f = self.node.facts.propose("s", "d", 0.5, sources=["https://example.org"])
        self.assertEqual(f.status, "proposed")
        method, path, headers, body = self.srv.seen[0]
        self.assertEqual((method, path), ("POST", "/v1/facts"))
        self.assertEqual(headers["Authorization"], "Bearer " + TOKEN)
        self.assertEqual(json.loads(body), {"statement": "s", "domain": "d", "confidence": 0.5, "sources": ["https://example.org"]})

    def test_api_error_raises_with_field(self):
        self.reply(400, {"error": "bad_request", "detail": 'field "confidence": want float64, got string', "field": "confidence"})
        with self.assertRaises(web4p2p.BadRequestError) as cm:
            self.node.facts.propose("s", "d", "high")
        self.assertEqual((cm.exception.field, cm.exception.status), ("confidence", 400))

    def test_unauthorized_says_where_the_token_is(self):
        self.reply(401, {"error": "unauthorized", "detail": "missing or wrong bearer token"})
        with self.assertRaises(web4p2p.UnauthorizedError) as cm:
            self.node.status()
        self.assertIn("api.token", cm.exception.detail)

    def test_reply_not_json(self):
        self.reply(200, b"<html>", "text/html")
        with self.assertRaises(web4p2p.ProtocolError):
            self.node.status()

    def test_reply_missing_member(self):
        self.reply(200, {"peers": [{"peer_id": "p"}]})
        with self.assertRaises(web4p2p.ProtocolError) as cm:
            self.node.peers()
        self.assertEqual(cm.exception.field, "connected")

    def test_query_keeps_accepted_and_adds_provenance(self):
        base = {"statement": "Water boils", "domain": "sci", "proposer": "p", "confirmers": ["b", "c"]}
        self.reply(200, {"facts": [dict(base, fact_id="a", status="accepted"), dict(base, fact_id="b", status="proposed"),
                                   dict(base, fact_id="c", status="accepted", statement="Ice melts")]})
        self.reply(200, {"id": "a", "chain": [{"id": "a", "kind": "fact"}]})
        got = self.node.facts.query("WATER", provenance=True)
        self.assertEqual([f.fact_id for f in got], ["a"])
        self.assertEqual(got[0].provenance, [{"id": "a", "kind": "fact"}])
        self.assertEqual(self.srv.seen[1][1], "/v1/why/a")

    def test_events_stream_and_close(self):
        self.reply(200, [": web4p2p event stream v1.0\n\n",
                         'id: 5\nevent: web4.trust.changed\ndata: {"id":"5","type":"web4.trust.changed","data":{"to":"trusted"}}\n\n'],
                   "text/event-stream")
        with self.node.events.stream("web4.trust.", last_id="4", timeout=5) as s:
            ev = next(s)
            self.assertEqual((ev.type, ev.data["to"], s.last_id), ("web4.trust.changed", "trusted", "5"))
            _, path, headers, _ = self.srv.seen[0]
            self.assertEqual(path, "/v1/events?type=web4.trust.")
            self.assertEqual(headers["Last-Event-ID"], "4")
            # close from another thread ends a blocked iteration
            self.assertTrue(self.srv.streaming.wait(5))
            threading.Timer(0.05, s.close).start()
            self.assertEqual(list(s), [])
        s.close()  # idempotent

    def test_events_stream_timeout(self):
        self.reply(200, [": web4p2p event stream v1.0\n\n"], "text/event-stream")
        with self.node.events.stream(timeout=0.2) as s:
            with self.assertRaises(web4p2p.Web4TimeoutError):
                next(s)
            self.assertEqual(list(s), [])  # ended

    def test_ids_stay_one_path_segment(self):
        self.reply(404, {"error": "unknown_fact", "detail": "no fact"})
        with self.assertRaises(web4p2p.UnknownFactError):
            self.node.facts.get("../trust?x=1")
        self.assertEqual(self.srv.seen[0][1], "/v1/facts/..%2Ftrust%3Fx%3D1")

    def test_events_stream_wrong_content_type(self):
        self.reply(200, {"events": []})
        with self.assertRaises(web4p2p.Web4Error):
            self.node.events.stream()

    def test_client_side_argument_errors_name_the_argument(self):
        t = self.node.transport("12D3KooWPeer")
        for call, field in ((lambda: t.open_channel("video"), "channel"),
                            (lambda: t.receive("control", timeout=0), "timeout"),
                            (lambda: t.send("control", 5), "data"),
                            (lambda: self.node.send_intent("p", "conquer", "x"), "goal"),
                            (lambda: self.node.send_intent("p", "ask", "x", priority="urgent"), "priority"),
                            (lambda: self.node.send_intent("", "ask", "x"), "peer_id"),
                            (lambda: self.node.facts.vote("f", "maybe", 1), "decision"),
                            (lambda: self.node.facts.get(""), "fact_id"),
                            (lambda: self.node.trust.set("p", "friendly", "r"), "state"),
                            (lambda: self.node.trust.set("p", "untrusted", ""), "reason"),
                            (lambda: self.node.human.ask("t", "q", ["only"]), "alternatives"),
                            (lambda: self.node.human.consent("maybe"), "consent"),
                            (lambda: self.node.human.decide("d", "perhaps", "r", []), "choice")):
            with self.subTest(field=field):
                with self.assertRaises(web4p2p.BadRequestError) as cm:
                    call()
                self.assertEqual(cm.exception.field, field)
                self.assertIn(field, str(cm.exception))
        self.assertEqual(self.srv.seen, [])  # none reached the node

    def test_receive_decodes_base64(self):
        self.reply(200, {"channel": "control", "data": "aGk="})
        self.reply(200, {"channel": "control", "data": "not base64!"})
        t = self.node.transport("12D3KooWPeer")
        self.assertEqual(t.receive("control", timeout=1), b"hi")
        self.assertEqual(json.loads(self.srv.seen[0][3]), {"channel": "control", "timeout_ms": 1000})
        with self.assertRaises(web4p2p.ProtocolError):
            t.receive("control", timeout=1)


class Connect(unittest.TestCase):
    def test_reads_the_data_dir(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "api.addr"), "w") as f:
                f.write("127.0.0.1:7401\n")
            with open(os.path.join(d, "api.token"), "w") as f:
                f.write(TOKEN + "\n")
            n = web4p2p.connect(d)
            self.assertEqual((n.api, n._token), ("127.0.0.1:7401", TOKEN))

    def test_no_node_for_the_data_dir(self):
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaises(web4p2p.NodeUnreachable) as cm:
                web4p2p.connect(d)
            self.assertIn("web4p2p start", str(cm.exception))

    def test_default_data_dir(self):
        old = dict(os.environ)
        try:
            os.environ.pop("WEB4P2P_DATA_DIR", None)
            os.environ["WEB4P2P_HOME"] = "/srv/w4"
            self.assertEqual(web4p2p.default_data_dir(), "/srv/w4")
            os.environ["WEB4P2P_DATA_DIR"] = "/srv/d"
            self.assertEqual(web4p2p.default_data_dir(), "/srv/d")
        finally:
            os.environ.clear()
            os.environ.update(old)

    def test_bad_api_address(self):
        for api in ("127.0.0.1", "host:port", ":80", ""):
            with self.subTest(api=api):
                with self.assertRaises(web4p2p.BadRequestError) as cm:
                    web4p2p.connect(api=api, token=TOKEN)
                self.assertEqual(cm.exception.field, "api")
        self.assertEqual(web4p2p.connect(api="[::1]:7401", token=TOKEN)._host, "::1")

    def test_unreachable(self):
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # nothing listens there now
        with self.assertRaises(web4p2p.NodeUnreachable) as cm:
            web4p2p.connect(api="127.0.0.1:%d" % port, token=TOKEN).status()
        self.assertIn("is it running", str(cm.exception))


if __name__ == "__main__":
    unittest.main()
