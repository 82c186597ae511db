"""web4p2p — the Python client of a running web4p2p node (standard library only).

    import web4p2p
    node = web4p2p.connect()                      # the node of ~/.web4p2p (or data_dir=...)
    peer = node.peers()[0].peer_id

    t = node.transport(peer)                      # the milestone's transport API (RTT)
    ch = t.open_channel("control")
    t.send(ch, b"hello")
    raw = t.receive(ch, timeout=5)
    t.close_channel(ch)

    fact = node.facts.propose("Water boils at 100 C at sea level", "science", 0.9)
    node.facts.vote(fact.fact_id, "confirm", 0.8)
    for f in node.facts.query("water", provenance=True):   # accepted facts only
        print(f.statement, f.confirmers, f.provenance)

    node.trust.list(); node.trust.set(peer, "untrusted", "spam")
    node.human.ask("work", "ship it?", ["yes", "no"])      # .status held | pending
    with node.events.stream("web4.trust.") as events:
        for ev in events: print(ev.type, ev.data)

Every error is a Web4Error with the API's .code, .field and .detail.
"""

from .client import Node, connect, default_data_dir
from .errors import *  # noqa: F401,F403 (the error model is part of the API)
from .errors import __all__ as _errors
from .events import EventStream, parse_sse
from .records import (AskResult, Event, Fact, HeldAction, IntentReply, PendingDecision, Peer, Record, Status,
                      TrustEntry)
from .transport import CHANNELS, Transport
from .wait import wait_until

__version__ = "0.1.0"

__all__ = ["connect", "default_data_dir", "Node", "Transport", "CHANNELS", "EventStream", "parse_sse",
           "Record", "Status", "Peer", "TrustEntry", "Fact", "IntentReply", "AskResult", "HeldAction",
           "PendingDecision", "Event", "wait_until", "__version__"] + list(_errors)
