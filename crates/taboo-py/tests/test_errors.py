"""Bad input gets a clear Python exception, never a crash."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import taboo


def test_invalid_entries_name_the_entry_and_line():
    with pytest.raises(taboo.BanError, match=r'entry "\(": invalid regular expression') as e:
        taboo.Ban(entries=["cat", "[regex] ("])
    assert e.value.entry == "(" and e.value.line is None
    with pytest.raises(taboo.BanError, match=r"line 3: .*unknown option \"frob\"") as e:
        taboo.Ban(text="cat\n# comment\n[frob] dog\n")
    assert e.value.line == 3
    with pytest.raises(taboo.BanError, match="no word characters"):
        taboo.Ban(["!!!"])
    with pytest.raises(taboo.BanError, match="empty"):
        taboo.Ban([""])
    with pytest.raises(taboo.BanError, match="matches the empty string"):
        taboo.Ban(entries=["[regex] a*"])
    # A BanError is a ValueError, as vLLM's validate_params needs.
    assert issubclass(taboo.BanError, ValueError)


def test_unknown_list_and_missing_file(tmp_path):
    with pytest.raises(taboo.BanError, match="no bundled list called \"nope\".*en-profanity"):
        taboo.Ban(lists=["nope"])
    missing = tmp_path / "missing.txt"
    with pytest.raises(taboo.BanError, match="missing.txt"):
        taboo.Ban(file=missing)
    bad = tmp_path / "latin1.txt"
    bad.write_bytes(b"cat\ncaf\xe9\n")
    with pytest.raises(taboo.BanError, match="line 2: .*not valid UTF-8"):
        taboo.Ban(file=bad)


def test_wrong_argument_types():
    with pytest.raises(TypeError, match="words must be a str or a list of str"):
        taboo.Ban([1, 2])
    with pytest.raises(TypeError, match="every ban entry must be a str"):
        taboo.as_ban(["cat", 3])
    with pytest.raises(ValueError, match='mode must be "hard" or "soft"'):
        taboo.Ban(["cat"]).guard(taboo.Vocabulary.tiktoken("r50k_base"), mode="backtrack")
    with pytest.raises(ValueError, match="unknown tiktoken encoding"):
        taboo.Vocabulary.tiktoken("o300k")


def test_tokenizers_without_a_vocabulary(tmp_path):
    with pytest.raises(TypeError, match="cannot read a vocabulary from object"):
        taboo.vocabulary_from_tokenizer(object())

    class Empty:
        def __len__(self):
            return 0

        def convert_ids_to_tokens(self, ids):
            return []

    with pytest.raises(taboo.VocabularyError, match="empty vocabulary"):
        taboo.vocabulary_from_tokenizer(Empty())

    class Holes(Empty):
        def __len__(self):
            return 3

        def convert_ids_to_tokens(self, ids):
            return ["a", None, "b"]

    with pytest.raises(taboo.VocabularyError, match="no token for id 1"):
        taboo.vocabulary_from_tokenizer(Holes())
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{}")
    with pytest.raises(taboo.VocabularyError, match="no \"model\""):
        taboo.vocabulary_from_tokenizer(bad)
    with pytest.raises(taboo.VocabularyError):
        taboo.Vocabulary.from_gguf(bad)
    with pytest.raises(taboo.VocabularyError):
        taboo.Vocabulary.from_tokenizer_file(tmp_path / "nope.json")


@pytest.fixture(scope="module")
def small():
    v = taboo.Vocabulary.from_pieces([" cat", ".", "s", "</s>"], spelling="raw", special=[3], end_of_generation=[3])
    return v, taboo.Ban(["cat"]).guard(v)


def test_logits_of_the_wrong_kind(small):
    v, g = small
    with pytest.raises(TypeError, match="dtype torch.int64; expected float32"):
        g.apply(torch.zeros(4, dtype=torch.int64))
    with pytest.raises(TypeError, match='dtype "<i4"'):
        g.apply(np.zeros(4, np.int32))
    with pytest.raises(TypeError, match="must be a torch tensor or a NumPy array, not list"):
        g.apply([0.0] * 4)
    with pytest.raises(ValueError, match="1-D .* or 2-D"):
        g.apply(torch.zeros(1, 1, 4))
    with pytest.raises(ValueError, match="one row of logits, got 2 rows"):
        g.apply(torch.zeros(2, 4))
    ro = np.zeros(4, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        g.apply(ro)
    with pytest.raises(ValueError, match="overlapping memory"):
        taboo.apply_batch([g.copy(), g.copy()], torch.zeros(4).expand(2, 4))
    with pytest.raises(ValueError, match="require grad"):
        g.apply(torch.zeros(4, requires_grad=True))
    with pytest.raises(TypeError, match='dtype ">f4".*native byte order'):
        g.apply(np.zeros(4, ">f4"))


def test_batches_of_the_wrong_shape(small):
    v, g = small
    with pytest.raises(ValueError, match="2 guards for logits of 3 rows"):
        taboo.apply_batch([g.copy(), g.copy()], torch.zeros(3, 4))
    same = g.copy()
    with pytest.raises(ValueError, match="appears twice"):
        taboo.apply_batch([same, same], torch.zeros(2, 4))
    rows = taboo.Rows(taboo.Ban(["cat"]), v)
    with pytest.raises(ValueError, match="one row per sequence"):
        rows.step(torch.zeros(2, 3, dtype=torch.int64), torch.zeros(3, 4))
    with pytest.raises(TypeError, match="token ids have dtype torch.float32"):
        rows.step(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="the bitmask must be a contiguous 1-D"):
        g.fill_bitmask(np.zeros((2, 2), np.int32))
    with pytest.raises(TypeError, match="bitmask have dtype"):
        g.fill_bitmask(np.zeros(2, np.int64))


def test_bad_pieces():
    with pytest.raises(ValueError, match="spelling must be"):
        taboo.Vocabulary.from_pieces(["a"], spelling="utf9")
    with pytest.raises(ValueError, match="past the vocabulary"):
        taboo.Vocabulary.from_pieces(["a"], spelling="raw", end_of_generation=[5])
