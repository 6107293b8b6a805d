"""A bounded load test of `taboo serve` on loopback: 16 concurrent clients × 8 requests,
mixed chat and completion, streaming and not, lengths and bans, against a server that also
bans "dog" for everyone. Every response must be whole and free of its banned words; the
server must answer no 5xx and end idle. Speed and memory are reported, never asserted.

Set TABOO_LOAD_REPORT to a path to keep the report as JSON.
"""

import json
import os

import load
from serverproc import Server


def test_sixteen_clients_eight_requests_each():
    server = Server("--parallel", "8", "--queue", "64", "--ban", "dog", "--ctx-size", "512")
    try:
        # Warm-up: one request per ban set, so the compiles are not in the timings.
        load.run(server.base_url, clients=1, requests=len(load.BAN_SETS))
        rss_before = server.rss_kib()
        single = load.run(server.base_url, clients=1, requests=8,
                          server_check=[dict(word="dog")])
        many = load.run(server.base_url, clients=16, requests=8,
                        server_check=[dict(word="dog")])
        health = server.wait_idle()
        rss_after = server.rss_kib()
        report = {
            "single": single,
            "load": many,
            "speedup": round(many["tokens_per_second"] / single["tokens_per_second"], 2),
            "rss_kib_before": rss_before,
            "rss_kib_after": rss_after,
            "health_after": health,
        }
        print("\n" + json.dumps(report, indent=1))
        if os.environ.get("TABOO_LOAD_REPORT"):
            with open(os.environ["TABOO_LOAD_REPORT"], "w") as f:
                json.dump(report, f, indent=1)
        for run in (single, many):
            assert run["failures"] == [], run["failures"]
            assert run["server_errors"] == 0 and run["other_errors"] == 0
        assert many["requests"] == 128 and many["completion_tokens"] > 0
        assert health["in_flight"] == 0 and health["disconnected"] == 0
        assert health["completed"] == len(load.BAN_SETS) + 8 + 128
    finally:
        assert server.stop() == 0
