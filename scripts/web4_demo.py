#!/usr/bin/env python3
"""web4_demo — two real `web4p2p start` processes on loopback, driven through
the control API with the Python client (standard library only).

  python3 scripts/web4_demo.py [--bin path/to/web4p2p]

Starts node A, starts node B bootstrapping from A, waits for the RTT and CIP
handshakes (both sides 'probing'), exchanges messages on the three RTT
channels in both directions, kills B with SIGKILL and restarts it on the same
data directory (same PeerID, same trust ledger), exchanges again, prints the
events of both nodes and stops them cleanly. Exit 0 on success."""

import argparse
import os
import sys

# The web4p2p Python package of this checkout (python/), installed or not.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python"))
import web4p2p  # noqa: E402
import web4procs
from web4procs import Cluster, Proc, wait_until

CHANNELS = ("control", "state", "knowledge")


def say(msg):
    print(msg, flush=True)


def peer_entry(node, peer_id):
    for p in node.client.peers():
        if p["peer_id"] == peer_id:
            return p
    return None


def handshaken(node, other):
    p = peer_entry(node, other.peer_id)
    return p is not None and p.get("rtt_session") and p.get("trust") in ("probing", "trusted")


def exchange(a, b, tag):
    ta, tb = a.client.transport(b.peer_id), b.client.transport(a.peer_id)
    for ch in CHANNELS:
        ta.open_channel(ch)
        tb.open_channel(ch)
    for ch in CHANNELS:
        msg = ("%s: hello on %s from %s" % (tag, ch, a.name)).encode()
        ta.send(ch, msg)
        got = tb.receive(ch, timeout=10)
        if got != msg:
            raise SystemExit("%s received %r on %s, want %r" % (b.name, got, ch, msg))
        say("  %s -> %s  [%-9s] %s" % (a.name, b.name, ch, got.decode()))
        reply = ("%s: ack on %s from %s" % (tag, ch, b.name)).encode()
        tb.send(ch, reply)
        got = ta.receive(ch, timeout=10)
        if got != reply:
            raise SystemExit("%s received %r on %s, want %r" % (a.name, got, ch, reply))
        say("  %s -> %s  [%-9s] %s" % (b.name, a.name, ch, got.decode()))
    try:
        ta.receive("control", timeout=0.2)
        raise SystemExit("unexpected extra message")
    except web4p2p.Web4TimeoutError:
        pass


def show_events(node, types=("web4.rtt.", "web4.cip.", "web4.trust.", "web4.router.", "web4.node.")):
    evs = node.client.events.recent(*types)
    say("events of %s (%d):" % (node.name, len(evs)))
    for e in evs:
        data = " ".join("%s=%s" % (k, v) for k, v in sorted(e.get("data", {}).items()) if not isinstance(v, (dict, list)))
        say("  %s %-34s %s" % (e["time"][11:23], e["type"], data[:110]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", help="web4p2p binary (default: $WEB4P2P_BIN or go build)")
    args = ap.parse_args()
    binary, tmp = web4procs.find_binary(args.bin, say)
    with Cluster(tmp) as cl:
        a = cl.add(Proc(binary, "alice")).start()
        say("alice  %s  %s" % (a.peer_id, a.addr))
        b = cl.add(Proc(binary, "bob", bootstrap=[a.addr])).start()
        say("bob    %s  (bootstrapping from alice)" % b.peer_id)
        wait_until("RTT + CIP handshake on both sides", lambda: handshaken(a, b) and handshaken(b, a))
        say("handshake complete: alice sees bob as %s, bob sees alice as %s" % (
            peer_entry(a, b.peer_id)["trust"], peer_entry(b, a.peer_id)["trust"]))
        exchange(a, b, "round 1")

        say("killing bob with SIGKILL and restarting him on the same data dir ...")
        old_id = b.peer_id
        b.kill()
        b.start()
        if b.peer_id != old_id:
            raise SystemExit("bob came back as %s, want %s" % (b.peer_id, old_id))
        trust_b = {t["peer_id"]: t["state"] for t in b.client.trust.list()}
        if trust_b.get(a.peer_id) not in ("probing", "trusted"):
            raise SystemExit("bob's trust ledger lost alice: %r" % trust_b)
        say("bob is back with the same PeerID; his ledger still has alice as %s" % trust_b[a.peer_id])
        wait_until("handshake after restart", lambda: handshaken(a, b) and handshaken(b, a))
        exchange(a, b, "round 2")
        show_events(a)
        show_events(b)
        for p in (b, a):
            rc = p.stop()
            if rc != 0:
                raise SystemExit("%s exited with %s on SIGINT:\n%s" % (p.name, rc, p.read_log()))
        say("both nodes stopped cleanly. demo OK")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted; nodes stopped and temp dirs removed", file=sys.stderr)
        sys.exit(130)
    except (TimeoutError, web4p2p.Web4Error) as e:
        print("web4_demo: %s" % e, file=sys.stderr)
        sys.exit(1)
