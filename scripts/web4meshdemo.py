#!/usr/bin/env python3
"""web4meshdemo — N real `web4p2p start` processes on loopback forming a mesh,
driven through the control API (standard library only).

  python3 scripts/web4meshdemo.py --n 5 [--bin path/to/web4p2p]

Node 0 is the seed; every other node bootstraps from the previous one and
from the seed. The script waits until each node has completed the RTT + CIP
handshake with its bootstrap peers, sends one message along every session,
then prints a per-node summary table and stops every process cleanly."""

import argparse
import os
import sys

# The web4p2p Python package of this checkout (python/), installed or not.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python"))
import web4p2p  # noqa: E402
import web4procs
from web4procs import Cluster, Proc, wait_until


def sessions(node):
    return [p for p in node.client.peers() if p.get("rtt_session") and p.get("trust") in ("probing", "trusted")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5, help="number of nodes (2..32)")
    ap.add_argument("--bin", help="web4p2p binary (default: $WEB4P2P_BIN or go build)")
    args = ap.parse_args()
    if not 2 <= args.n <= 32:
        ap.error("--n must be within [2,32]")
    binary, tmp = web4procs.find_binary(args.bin, print)
    with Cluster(tmp) as cl:
        nodes = []
        for i in range(args.n):
            boot = [nodes[0].addr] if i > 0 else []
            if i > 1:
                boot.append(nodes[i - 1].addr)
            n = cl.add(Proc(binary, "node%d" % i, bootstrap=boot)).start()
            nodes.append(n)
            print("[%d/%d] started %s %s" % (i + 1, args.n, n.name, n.peer_id), flush=True)
        want = {n.peer_id: set() for n in nodes}
        for i, n in enumerate(nodes[1:], 1):
            for j in ([0] + ([i - 1] if i > 1 else [])):
                want[n.peer_id].add(nodes[j].peer_id)
                want[nodes[j].peer_id].add(n.peer_id)
        for n in nodes:
            wait_until("%s's handshakes" % n.name,
                       lambda n=n: want[n.peer_id] <= {p["peer_id"] for p in sessions(n)}, timeout=60)
            print("%s: handshakes done with %d peers" % (n.name, len(want[n.peer_id])), flush=True)
        delivered = 0
        for n in nodes:
            for peer in sorted(want[n.peer_id]):
                other = next(x for x in nodes if x.peer_id == peer)
                t = n.client.transport(peer)
                t.open_channel("knowledge")
                other.client.transport(n.peer_id).open_channel("knowledge")
                msg = ("from %s to %s" % (n.name, other.name)).encode()
                t.send("knowledge", msg)
                got = other.client.transport(n.peer_id).receive("knowledge", timeout=10)
                if got != msg:
                    raise SystemExit("%s got %r, want %r" % (other.name, got, msg))
                delivered += 1
        print("\n%-7s %-14s %6s %9s %8s %8s %7s" % ("node", "peer", "peers", "sessions", "probing", "trusted", "events"))
        for n in nodes:
            peers = n.client.peers()
            trust = n.client.trust.list()
            evs = n.client.events.recent()
            print("%-7s %-14s %6d %9d %8d %8d %7d" % (
                n.name, n.peer_id[:6] + ".." + n.peer_id[-6:], sum(1 for p in peers if p["connected"]),
                len(sessions(n)), sum(1 for t in trust if t["state"] == "probing"),
                sum(1 for t in trust if t["state"] == "trusted"), len(evs)))
        print("\n%d messages delivered over %d RTT sessions" % (delivered, sum(len(v) for v in want.values()) // 2))
        bad = [(n.name, n.stop()) for n in reversed(nodes)]
        bad = [(name, rc) for name, rc in bad if rc != 0]
        if bad:
            raise SystemExit("unclean exits: %r" % bad)
        print("all %d nodes stopped cleanly. mesh demo OK" % args.n)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted; nodes stopped and temp dirs removed", file=sys.stderr)
        sys.exit(130)
    except (TimeoutError, web4p2p.Web4Error) as e:
        print("web4meshdemo: %s" % e, file=sys.stderr)
        sys.exit(1)
