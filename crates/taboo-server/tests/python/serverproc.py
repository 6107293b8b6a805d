"""Starting and stopping `taboo serve` for the tests and the load script.

The server is started on 127.0.0.1 with port 0 (the kernel picks a free one) and the port is
read from its start-up line on stderr. `stop()` sends SIGTERM and returns the exit status.
"""

import os
import re
import signal
import subprocess
import threading
import time
import urllib.request
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
MODEL = ROOT / "models" / "SmolLM2-135M-Instruct-Q4_1.gguf"
# One llama.cpp thread: with two, each decode step waits on a spinning barrier, which on a
# machine shared with other jobs (CI runners) can stall a step for seconds.
THREADS = os.environ.get("TABOO_TEST_THREADS", "1")
LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


def taboo_bin():
    """The taboo binary: $TABOO_BIN, else the release build of this checkout."""
    path = Path(os.environ.get("TABOO_BIN", ROOT / "target" / "release" / "taboo"))
    if not path.is_file():
        raise RuntimeError(f"{path} is missing: cargo build --release -p taboo-cli")
    return path


class Server:
    """One `taboo serve` process."""

    def __init__(self, *args, start_timeout=300):
        cmd = [str(taboo_bin()), "serve", "--model", str(MODEL), "--port", "0",
               "--threads", THREADS, *args]
        self.proc = subprocess.Popen(
            cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
        )
        self.log = []
        found = threading.Event()
        self.url = None

        def read_stderr():
            for line in self.proc.stderr:
                self.log.append(line)
                m = LISTENING.search(line)
                if m and not found.is_set():
                    self.url = m.group(1)
                    found.set()
            found.set()

        threading.Thread(target=read_stderr, daemon=True).start()
        # A bound on the wait, so a broken build fails instead of hanging CI.
        if not found.wait(start_timeout) or self.url is None:
            self.proc.kill()
            raise RuntimeError("taboo serve did not start:\n" + "".join(self.log))
        self.base_url = self.url + "/v1"

    @property
    def pid(self):
        return self.proc.pid

    def health(self):
        with urllib.request.urlopen(self.url + "/health", timeout=60) as r:
            return json.load(r)

    def rss_kib(self):
        """Resident memory of the server process, in KiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def wait_idle(self, timeout=600):
        """Waits until no request is in flight (a hang guard, not a timing check)."""
        deadline = time.monotonic() + timeout
        while True:
            h = self.health()
            if h["in_flight"] == 0 and h["running"] == 0 and h["queued"] == 0:
                return h
            if time.monotonic() > deadline:
                raise AssertionError(f"the server stayed busy: {h}")
            time.sleep(0.2)

    def stop(self, timeout=120):
        """SIGTERM, then the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("taboo serve did not stop after SIGTERM")
