"""Token vocabulary with the seed's reserved tokens."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

UNK, PAD, BOS, EOS = "<unk>", "<pad>", "<bos>", "<eos>"
# The seed's order: <unk> first, then the reserved tokens.
RESERVED = (UNK, PAD, BOS, EOS)


class Vocab:
    """Maps tokens to ids and back; unknown tokens map to <unk>."""

    def __init__(self, idx_to_token: list[str]):
        if tuple(idx_to_token[: len(RESERVED)]) != RESERVED:
            raise ValueError(f"a vocabulary must start with {' '.join(RESERVED)}")
        self.idx_to_token = list(idx_to_token)
        self.token_to_idx = {tok: i for i, tok in enumerate(self.idx_to_token)}
        if len(self.token_to_idx) != len(self.idx_to_token):
            raise ValueError("a vocabulary must not repeat a token")
        self.unk, self.pad, self.bos, self.eos = (self.token_to_idx[t] for t in RESERVED)

    def __len__(self) -> int:
        return len(self.idx_to_token)

    def encode(self, tokens: list[str]) -> list[int]:
        """Token ids, <unk> for unknown tokens."""
        get = self.token_to_idx.get
        return [get(tok, self.unk) for tok in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens for ids."""
        return [self.idx_to_token[i] for i in ids]

    def save(self, path: Path) -> None:
        """One token per line, UTF-8."""
        Path(path).write_text("".join(tok + "\n" for tok in self.idx_to_token), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Vocab:
        """A vocabulary from its file: one token per line, the id is the line number."""
        lines = Path(path).read_text(encoding="utf-8").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return cls(lines)


def with_eos(ids: list[int], eos: int, num_steps: int, seed_truncation: bool) -> list[int]:
    """Append <eos> and cut to num_steps.

    The seed appends <eos> and then truncates, so a long sentence loses its <eos>;
    otherwise the sentence is cut to num_steps - 1 tokens and always ends in <eos>.
    """
    if seed_truncation:
        return (ids + [eos])[:num_steps]
    return ids[: num_steps - 1] + [eos]
