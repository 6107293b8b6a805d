"""vLLM on CPU with the local SmolLM2 directory, offline: a batch with a banned and an
unbanned request; the banned one has no banned word, the other is what it is alone; a bad
ban is rejected with ValueError."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CAT = re.compile(r"(?<!\w)(?:cat|kittens?)(?!\w)", re.I)


def test_vllm_offline_batch(smol_dir):
    env = dict(os.environ)
    proc = subprocess.run(
        [sys.executable, str(HERE / "vllm_e2e.py"), str(smol_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1500,
    )
    lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-6000:]
    r = json.loads(lines[-1][len("RESULT "):])
    print(json.dumps(r, ensure_ascii=False, indent=1))
    # The prompts elicit the word, so the ban had something to do.
    assert CAT.search(r["unconstrained"]) or CAT.search(r["free_alone"]), r
    assert not CAT.search(r["banned"]), r
    assert not CAT.search(r["caps_banned"]), r
    assert r["free_in_batch"] == r["free_alone"], r
    # validate_params raised ValueError; vLLM turns it into its validation error (HTTP 400).
    assert r["rejected"] and "ValidationError" in r["rejected"], r
    assert 'entry "(": invalid regular expression' in r["rejected"], r
