#!/usr/bin/env python3
"""web4procs — start and stop real `web4p2p start` processes for the demo
scripts (standard library only). Every process gets its own temporary data
directory on loopback; stop_all() (also run on Ctrl-C and on failure)
interrupts them, waits, kills stragglers and removes the directories."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

# The web4p2p Python package of this checkout (python/), installed or not.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python"))
import web4p2p  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def find_binary(explicit=None, log=print):
    """The web4p2p binary: explicit path, $WEB4P2P_BIN, or a fresh `go build`."""
    path = explicit or os.environ.get("WEB4P2P_BIN")
    if path:
        if not os.access(path, os.X_OK):
            raise SystemExit("web4p2p binary %s is not executable" % path)
        return path, None
    tmp = tempfile.mkdtemp(prefix="web4p2p-bin-")
    out = os.path.join(tmp, "web4p2p")
    log("building web4p2p (go build ./cmd/web4p2p) ...")
    r = subprocess.run(["go", "build", "-o", out, "./cmd/web4p2p"], cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise SystemExit("go build failed:\n" + r.stdout)
    return out, tmp


wait_until = web4p2p.wait_until


class Proc:
    """One `web4p2p start` process."""

    def __init__(self, binary, name, data_dir=None, bootstrap=(), anchors=(), extra=()):
        self.name = name
        self.own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="web4p2p-%s-" % name)
        self.binary = binary
        self.bootstrap = list(bootstrap)
        self.anchors = list(anchors)
        self.extra = list(extra)
        self.proc = None
        self.client = None
        self.log_path = os.path.join(self.data_dir, "stderr.log")

    def start(self, timeout=30.0):
        args = [self.binary, "start", "--data-dir", self.data_dir, "--agent-id", self.name,
                "--listen", "/ip4/127.0.0.1/tcp/0", "--api", "127.0.0.1:0",
                "--events-file", os.path.join(self.data_dir, "events.jsonl"), "--quiet"]
        for b in self.bootstrap:
            args += ["--bootstrap", b]
        for a in self.anchors:
            args += ["--trust-anchor", a]
        args += self.extra
        addr_file = os.path.join(self.data_dir, "api.addr")
        if os.path.exists(addr_file):
            os.remove(addr_file)  # stale after a SIGKILL
        self.stderr = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self.stderr,
                                     start_new_session=True)

        def ready():
            if self.proc.poll() is not None:
                raise SystemExit("%s exited with %d during start-up:\n%s" % (
                    self.name, self.proc.returncode, self.read_log()))
            return os.path.exists(addr_file) and os.path.exists(os.path.join(self.data_dir, "api.token"))
        wait_until("%s's control API" % self.name, ready, timeout)
        self.client = web4p2p.connect(self.data_dir)
        self.status = wait_until("%s's status" % self.name, self.client.status, timeout)
        return self

    @property
    def peer_id(self):
        return self.status["peer_id"]

    @property
    def addr(self):
        return self.status["addrs"][0]

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self, timeout=15.0):
        """SIGINT, wait for a clean exit; SIGKILL if it does not come."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return -9

    def kill(self):
        """SIGKILL: the crash case."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def cleanup(self):
        self.stop()
        if getattr(self, "stderr", None):
            self.stderr.close()
        if self.own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)


class Cluster:
    """Processes started by a script; use as a context manager so that they
    are stopped and their directories removed on success, failure and Ctrl-C."""

    def __init__(self, binary_tmp=None):
        self.procs = []
        self.binary_tmp = binary_tmp

    def add(self, p):
        self.procs.append(p)
        return p

    def __enter__(self):
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        return self

    def __exit__(self, exc_type, exc, tb):
        for p in reversed(self.procs):
            try:
                p.cleanup()
            except Exception as e:  # keep cleaning the others
                print("cleanup of %s: %s" % (p.name, e), file=sys.stderr)
        if self.binary_tmp:
            shutil.rmtree(self.binary_tmp, ignore_errors=True)
        return False
