"""Waiting for a node's state to change (for scripts and tests)."""

import time

from .errors import Web4Error, Web4TimeoutError


def wait_until(what, fn, timeout=30.0, interval=0.05):
    """Call fn() until it returns a truthy value, which is returned.

    A Web4Error raised by fn (the node not ready yet, a record not there
    yet) counts as "not yet". When timeout seconds pass, Web4TimeoutError
    names what was awaited and the last error seen.
    """
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = fn()
            if v:
                return v
        except Web4Error as e:
            last = e
        if time.monotonic() >= deadline:
            raise Web4TimeoutError("timed out after %.0fs waiting for %s%s" % (
                timeout, what, (" (last error: %s)" % last) if last else ""))
        time.sleep(interval)
