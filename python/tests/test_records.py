"""Unit tests: replies are checked as records."""

import unittest

import web4p2p
from web4p2p.records import parse_list

FACT = {"fact_id": "f1", "statement": "s", "domain": "d", "proposer": "p", "status": "accepted",
        "confirmers": ["b", "c"], "rejecters": [], "challengers": [], "votes": 2, "proposed_at": "2026-01-01T00:00:00Z"}


class Records(unittest.TestCase):
    def test_dict_and_attributes(self):
        f = web4p2p.Fact.parse(dict(FACT, future_member=1))
        self.assertEqual(f.confirmers, ["b", "c"])
        self.assertEqual(f["status"], "accepted")
        self.assertEqual(f["future_member"], 1)  # kept for newer nodes
        self.assertIsNone(f.reason)  # optional, absent
        with self.assertRaises(AttributeError):
            f.no_such_member

    def test_missing_required(self):
        obj = dict(FACT)
        del obj["confirmers"]
        with self.assertRaises(web4p2p.ProtocolError) as cm:
            web4p2p.Fact.parse(obj, "fact")
        self.assertEqual(cm.exception.field, "confirmers")
        self.assertIn("fact.confirmers: missing", str(cm.exception))

    def test_wrong_types(self):
        for member, value in (("status", 1), ("confirmers", "b"), ("votes", True), ("votes", "2"), ("reason", 5)):
            with self.subTest(member=member, value=value):
                with self.assertRaises(web4p2p.ProtocolError) as cm:
                    web4p2p.Fact.parse(dict(FACT, **{member: value}))
                self.assertEqual(cm.exception.field, member)

    def test_not_an_object(self):
        for v in (None, [], "x", 1):
            with self.assertRaises(web4p2p.ProtocolError):
                web4p2p.Peer.parse(v)

    def test_parse_list_names_the_item(self):
        with self.assertRaises(web4p2p.ProtocolError) as cm:
            parse_list(web4p2p.Peer, {"peers": [{"peer_id": "a", "connected": True, "trust": "probing"}, {"peer_id": 2}]}, "peers")
        self.assertIn("peers[1].peer_id", str(cm.exception))
        with self.assertRaises(web4p2p.ProtocolError):
            parse_list(web4p2p.Peer, {"peers": None}, "peers")
        self.assertEqual(parse_list(web4p2p.Peer, {"peers": []}, "peers"), [])

    def test_ask_result_waits_for_the_human(self):
        held = web4p2p.AskResult.parse({"id": "q1", "status": "held"})
        self.assertTrue(held.held)
        self.assertTrue(held.waiting_for_human)
        pending = web4p2p.AskResult.parse({"id": "q2", "status": "pending", "paced": "allow"})
        self.assertFalse(pending.held)
        self.assertTrue(pending.waiting_for_human)

    def test_intent_reply(self):
        self.assertTrue(web4p2p.IntentReply.parse({"peer": "p", "decision": "accept"}).accepted)
        self.assertFalse(web4p2p.IntentReply.parse({"peer": "p", "decision": "defer", "reason": "overloaded"}).accepted)


if __name__ == "__main__":
    unittest.main()
