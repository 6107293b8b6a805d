"""Type stubs of the extension module (see the docstrings of each object for details)."""

from os import PathLike
from typing import Any, List, Optional, Sequence, Union

_Path = Union[str, PathLike]
_Strings = Union[str, Sequence[str], None]
_Tokens = Any  # a sequence of ints, a NumPy integer array or a torch integer tensor
_Logits = Any  # a NumPy float array or a CPU torch float tensor

class BanError(ValueError):
    """A ban could not be read, parsed or compiled."""

    line: Optional[int]
    entry: Optional[str]

class VocabularyError(ValueError):
    """A vocabulary could not be read."""

class Vocabulary:
    """A model's tokens as bytes, which are special, which end generation."""

    @staticmethod
    def from_tokenizer_json(json: str) -> Vocabulary: ...
    @staticmethod
    def from_tokenizer_file(path: _Path) -> Vocabulary: ...
    @staticmethod
    def from_gguf(path: _Path) -> Vocabulary: ...
    @staticmethod
    def tiktoken(name: str) -> Vocabulary: ...
    @staticmethod
    def from_pieces(
        pieces: Sequence[str],
        *,
        spelling: str,
        special: Sequence[int] = ...,
        end_of_generation: Sequence[int] = ...,
    ) -> Vocabulary: ...
    def __len__(self) -> int: ...
    def token_bytes(self, token: int) -> Optional[bytes]: ...
    def is_special(self, token: int) -> bool: ...
    @property
    def special_tokens(self) -> List[int]: ...
    @property
    def end_of_generation(self) -> List[int]: ...
    def decode(self, tokens: Sequence[int]) -> bytes: ...

class Applied:
    """What one apply did to a row."""

    forbidden: int
    penalized: int
    removed_mass: float

class Guard:
    """The ban guard of one sequence."""

    def prime(self, text: Union[str, bytes]) -> None: ...
    def prime_tokens(self, tokens: _Tokens) -> None: ...
    def apply(self, logits: _Logits, *, last: bool = False) -> Applied: ...
    def advance(self, token: int) -> bool: ...
    def rollback(self, n: int) -> None: ...
    def sync_to(self, tokens: _Tokens) -> int: ...
    def fill_bitmask(self, mask: Any, *, last: bool = False) -> int: ...
    def forbidden_tokens(self, *, last: bool = False) -> List[int]: ...
    @property
    def position(self) -> int: ...
    @property
    def tokens(self) -> List[int]: ...
    @property
    def is_open(self) -> bool: ...
    @property
    def is_pending(self) -> bool: ...
    @property
    def open_since(self) -> Optional[int]: ...
    def copy(self) -> Guard: ...
    def __copy__(self) -> Guard: ...

class Ban:
    """A compiled ban."""

    def __init__(
        self,
        words: _Strings = None,
        *,
        entries: _Strings = None,
        file: Union[_Path, Sequence[_Path], None] = None,
        text: Optional[str] = None,
        lists: _Strings = None,
        forms: bool = False,
        disguise: bool = False,
        case_sensitive: bool = False,
        substring: bool = False,
        regex: bool = False,
    ) -> None: ...
    @property
    def entries(self) -> List[str]: ...
    @property
    def unknown_words(self) -> List[str]: ...
    def __len__(self) -> int: ...
    def prepare(self, vocab: Vocabulary) -> None: ...
    def guard(
        self,
        vocab: Vocabulary,
        *,
        mode: str = "hard",
        penalty: float = 10.0,
        partial_penalty: float = 0.0,
        max_rollback: int = 64,
        measure_mass: bool = True,
    ) -> Guard: ...

class Rows:
    """Per-batch guard state for transformers' generate."""

    def __init__(
        self,
        ban: Ban,
        vocab: Vocabulary,
        *,
        mode: str = "hard",
        penalty: float = 10.0,
        partial_penalty: float = 0.0,
        measure_mass: bool = False,
        pad_token_id: Optional[int] = None,
        prime_tokens: int = 32,
        max_rollback: int = 64,
        max_new_tokens: Optional[int] = None,
    ) -> None: ...
    def step(self, input_ids: Any, scores: _Logits, *, last: bool = False) -> None: ...
    def reset(self) -> None: ...
    @property
    def violations(self) -> List[int]: ...
    @property
    def removed_mass(self) -> List[float]: ...
    @property
    def prompt_width(self) -> Optional[int]: ...
    @property
    def generations(self) -> int: ...
    @property
    def tokens(self) -> List[List[int]]: ...

def apply_batch(
    guards: Sequence[Optional[Guard]], logits: _Logits, *, last: bool = False
) -> List[Optional[Applied]]: ...
def bundled_lists() -> List[str]: ...
