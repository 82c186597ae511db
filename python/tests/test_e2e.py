"""End-to-end tests against real nodes.

go test ./itest -run TestPythonPackage starts three `web4p2p start`
processes that are each other's trust anchors (B and C bootstrap from A),
writes their data dirs and PeerIDs to a JSON file and runs these tests with
WEB4P2P_E2E=<that file>. Without it they are skipped (a plain
`python3 -m unittest` runs the unit tests only).
"""

import json
import os
import secrets
import time
import unittest

import web4p2p

E2E = os.environ.get("WEB4P2P_E2E")


wait_until = web4p2p.wait_until


@unittest.skipUnless(E2E, "WEB4P2P_E2E not set: run from go test ./itest -run TestPythonPackage")
class EndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(E2E) as f:
            nodes = json.load(f)["nodes"]
        cls.a, cls.b, cls.c = [web4p2p.connect(n["data_dir"]) for n in nodes]
        cls.ida, cls.idb, cls.idc = [n["peer_id"] for n in nodes]

        def ready(node, peer):
            return any(p.peer_id == peer and p.cip_ready for p in node.peers())
        for node, peer in ((cls.a, cls.idb), (cls.a, cls.idc), (cls.b, cls.ida), (cls.c, cls.ida)):
            wait_until("a CIP session %s -> %s" % (node.api, peer), lambda: ready(node, peer))

    def test_status_and_peers(self):
        st = self.a.status()
        self.assertEqual(st.peer_id, self.ida)
        self.assertTrue(st.addrs)
        peers = {p.peer_id: p for p in self.a.peers()}
        for pid in (self.idb, self.idc):
            self.assertTrue(peers[pid].connected and peers[pid].rtt_session and peers[pid].cip_ready)
            self.assertEqual(peers[pid].trust, "trusted")  # anchors

    def test_transport_round_trip(self):
        ta, tb = self.a.transport(self.idb), self.b.transport(self.ida)
        for ch in web4p2p.CHANNELS:
            self.assertEqual(ta.open_channel(ch), ch)
            tb.open_channel(ch)
        ta.send("state", b"\x00hello\xff")
        self.assertEqual(tb.receive("state", timeout=10), b"\x00hello\xff")
        tb.send("knowledge", "reply")
        self.assertEqual(ta.receive("knowledge", timeout=10), b"reply")
        with self.assertRaises(web4p2p.Web4TimeoutError) as cm:
            ta.receive("control", timeout=0.2)
        self.assertIsInstance(cm.exception, TimeoutError)
        self.assertEqual(cm.exception.status, 504)
        for ch in web4p2p.CHANNELS:
            ta.close_channel(ch)
        with self.assertRaises(web4p2p.ChannelClosedError):
            ta.send("control", b"after close")

    def test_transport_errors_from_the_node(self):
        with self.assertRaises(web4p2p.BadRequestError) as cm:
            self.a.transport("not-a-peer-id").open_channel("control")
        self.assertEqual(cm.exception.code, "bad_peer")
        stranger = self.a.status().peer_id  # a valid PeerID that is no peer: the node itself
        with self.assertRaises(web4p2p.Web4Error) as cm:
            self.a.transport(stranger).send("control", b"x")
        self.assertIn(cm.exception.code, ("unknown_peer", "channel_closed"))

    def test_send_intent(self):
        rep = self.a.send_intent(self.idb, "ask", "research", context="from the Python package", timeout=10)
        self.assertEqual(rep.peer, self.idb)
        self.assertTrue(rep.accepted, rep)
        self.assertTrue(rep.reply_to)

    def test_facts_quorum_query_and_provenance(self):
        statement = "Python package fact %s boils at sea level" % secrets.token_hex(4)
        fact = self.a.facts.propose(statement, "itest", 0.9, sources=["https://example.org/water"])
        self.assertNotEqual(fact.status, "accepted")  # a lone proposal is not knowledge yet
        self.assertNotIn(fact.fact_id, [f.fact_id for f in self.a.facts.query(statement)])
        for voter in (self.b, self.c):
            wait_until("the proposal on %s" % voter.api, lambda: voter.facts.get(fact.fact_id))
            after = voter.facts.vote(fact.fact_id, "confirm", 0.8, notes="seen it")
            self.assertEqual(after.fact_id, fact.fact_id)
        wait_until("the fact accepted on A", lambda: self.a.facts.get(fact.fact_id).status == "accepted")
        got = self.a.facts.query(statement.split()[3].upper(), domain="itest", provenance=True)
        self.assertEqual([f.fact_id for f in got], [fact.fact_id])
        f = got[0]
        fps = {e.peer_id: e.fingerprint for e in self.a.trust.list()}
        self.assertEqual(sorted(f.confirmers), sorted([fps[self.idb], fps[self.idc]]))
        self.assertTrue(f.provenance and any(n.get("id") == fact.fact_id for n in f.provenance), f.provenance)
        self.assertEqual(self.a.facts.query(statement, domain="elsewhere"), [])
        with self.assertRaises(web4p2p.UnknownFactError):
            self.a.facts.vote("no-such-fact", "confirm", 1)
        with self.assertRaises(web4p2p.BadRequestError) as cm:
            self.a.facts.propose("x", "itest", "very")  # the node refuses the type, naming the field
        self.assertEqual(cm.exception.field, "confidence")

    def test_trust_list_and_set(self):
        states = {e.peer_id: e.state for e in self.a.trust.list()}
        self.assertEqual((states[self.idb], states[self.idc]), ("trusted", "trusted"))
        stranger = secrets.token_hex(32)  # a fingerprint the ledger does not know
        e = self.a.trust.set(stranger, "blacklisted", "python itest: blacklisted in advance")
        self.assertEqual((e.fingerprint, e.state), (stranger, "blacklisted"))
        self.assertEqual(self.a.trust.get(stranger).state, "blacklisted")
        with self.assertRaises(web4p2p.OverrideRefusedError) as cm:
            self.a.trust.set(stranger, "trusted", "granting trust by hand is refused")
        self.assertEqual(cm.exception.status, 409)

    def test_human_consent_ask_and_held(self):
        h = self.c.human
        try:
            h.consent("revoked")
            ask = h.ask("deploy", "ship it?", ["yes", "no"])
            self.assertEqual(ask.status, "held")
            self.assertTrue(ask.waiting_for_human)
            held = {x.id: x for x in h.held()}
            self.assertIn(ask.id, held)
            self.assertEqual(held[ask.id].topic, "deploy")
            h.drop(ask.id)
            self.assertNotIn(ask.id, [x.id for x in h.held()])
            with self.assertRaises(web4p2p.NotFoundError):
                h.release(ask.id)
        finally:
            h.consent("granted")
        ask = h.ask("deploy", "ship it now?", ["yes", "no"])
        self.assertEqual(ask.status, "pending")
        self.assertTrue(ask.paced)
        pending = {d.id: d for d in h.decisions()}
        self.assertIn(ask.id, pending)
        self.assertEqual(pending[ask.id].alternatives, ["yes", "no"])
        self.assertTrue(h.decide(ask.id, "approve", "tests pass", ["yes", "no"]))
        self.assertNotIn(ask.id, [d.id for d in h.decisions()])
        with self.assertRaises(web4p2p.BadRequestError) as cm:
            self.c._call("POST", "/v1/human/consent", {"consent": "maybe"})
        self.assertEqual(cm.exception.field, "consent")

    def test_events_stream_and_recent(self):
        stranger = secrets.token_hex(32)
        with self.a.events.stream("web4.trust.", timeout=30) as events:
            self.a.trust.set(stranger, "untrusted", "python itest: distrusted in advance")
            for ev in events:
                if ev.subject == stranger or stranger in json.dumps(ev.data):
                    break
            else:
                self.fail("the stream ended before the trust event")
            self.assertTrue(ev.type.startswith("web4.trust."))
            last = events.last_id
        self.assertEqual(last, ev.id)
        recent = self.a.events.recent("web4.trust.")
        self.assertIn(ev.id, [e.id for e in recent])
        self.assertTrue(all(e.type.startswith("web4.trust.") for e in recent))

    def test_wrong_token_and_unknown_id(self):
        with self.assertRaises(web4p2p.UnauthorizedError) as cm:
            web4p2p.connect(api=self.a.api, token="0" * 64).status()
        self.assertEqual(cm.exception.status, 401)
        with self.assertRaises(web4p2p.NotFoundError):
            self.a.why("no-such-id-anywhere")


if __name__ == "__main__":
    unittest.main()
