"""The SmolLM2 model directory the model tests use, made once from the project's GGUF file.

transformers reads GGUF directly, but slowly (about a minute to dequantize), and vLLM wants a
Hugging Face model directory; so the GGUF is converted once into
``$TABOO_PY_MODEL_DIR`` (default ``~/.cache/taboo-py/smollm2-135m-instruct``), a directory
outside the repository, and reused. Run as a script to make it ahead of time.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
GGUF_DIR = ROOT / "models"
GGUF_NAME = "SmolLM2-135M-Instruct-Q4_1.gguf"


def gguf_path() -> Path:
    path = GGUF_DIR / GGUF_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: run scripts/fetch-models.sh (scripts/test.sh does)"
        )
    return path


def model_dir() -> Path:
    """The converted model directory, made if missing."""
    out = Path(
        os.environ.get(
            "TABOO_PY_MODEL_DIR", Path.home() / ".cache" / "taboo-py" / "smollm2-135m-instruct"
        )
    )
    done = out / ".complete"
    if done.is_file():
        return out
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(GGUF_DIR, gguf_file=GGUF_NAME)
    model = AutoModelForCausalLM.from_pretrained(
        GGUF_DIR,
        gguf_file=GGUF_NAME,
        dtype=torch.float32,
        quantization_config=GgufConfig(dequantize=True),
    )
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    done.write_text(GGUF_NAME + "\n")
    return out


if __name__ == "__main__":
    print(model_dir())
    sys.exit(0)
