"""wait_until: polling a node's state with a deadline."""

import unittest

import web4p2p


class WaitUntil(unittest.TestCase):
    def test_returns_the_first_truthy_value(self):
        calls = []

        def fn():
            calls.append(1)
            if len(calls) < 3:
                raise web4p2p.UnavailableError("not yet")
            return "ready"

        self.assertEqual(web4p2p.wait_until("ready", fn, timeout=5, interval=0.001), "ready")
        self.assertEqual(len(calls), 3)

    def test_deadline_names_what_and_the_last_error(self):
        def fn():
            raise web4p2p.UnknownPeerError("no session with that peer")

        with self.assertRaises(web4p2p.Web4TimeoutError) as cm:
            web4p2p.wait_until("the session", fn, timeout=0.01, interval=0.001)
        self.assertIn("the session", str(cm.exception))
        self.assertIn("no session with that peer", str(cm.exception))
        self.assertIsInstance(cm.exception, TimeoutError)

    def test_other_errors_are_not_swallowed(self):
        def fn():
            raise ValueError("a bug in the caller")

        with self.assertRaises(ValueError):
            web4p2p.wait_until("x", fn, timeout=5)


if __name__ == "__main__":
    unittest.main()
