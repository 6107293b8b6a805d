"""Shared fixtures: the project's SmolLM2 vocabulary and model, loaded offline.

Model tests never skip: a missing model or package is a failure that says how to fix it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

sys.path.insert(0, str(Path(__file__).resolve().parent))

import model_dir as _model_dir  # noqa: E402

ROOT = _model_dir.ROOT


@pytest.fixture(scope="session")
def gguf_path() -> Path:
    return _model_dir.gguf_path()


@pytest.fixture(scope="session")
def vocab(gguf_path):
    import taboo

    return taboo.Vocabulary.from_gguf(gguf_path)


@pytest.fixture(scope="session")
def smol_dir() -> Path:
    return _model_dir.model_dir()


@pytest.fixture(scope="session")
def tokenizer(smol_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(smol_dir)
    tok.padding_side = "left"
    return tok


@pytest.fixture(scope="session")
def model(smol_dir):
    import torch
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(2)
    m = AutoModelForCausalLM.from_pretrained(smol_dir, dtype=torch.float32)
    m.eval()
    return m
