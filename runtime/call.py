"""What one translate call asks for beside its decoding options: the lines (text, or token
lists as CTranslate2 takes them), each line's target prefix, and the translator settings
the call overrides (batches, input limit)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from s2s_batch.runtime.search.options import DecodingOptions


@dataclass(frozen=True)
class Call:
    """One call's settings beside its decoding options: batches, input limit, each line's
    target prefix (ids; None: no line has one), and whether the results get text."""

    opts: DecodingOptions
    batch_size: int
    batch_type: str
    input_limit: int | None
    prefixes: list[list[int]] | None = None
    with_text: bool = True
    progress: Callable[[int, int], None] | None = None  # (sentences done, in all), per batch


def read_source(source) -> tuple[list, bool]:
    """(the lines as a list, whether they are token lists); one bare string, or a mix of
    text and token lists, is refused with a TypeError saying what to pass."""
    if isinstance(source, str):
        raise TypeError("lines must be a sequence of strings, not one string; wrap it in a list")
    lines = list(source)
    tokenized = bool(lines) and all(isinstance(line, (list, tuple)) for line in lines)
    for number, line in enumerate(lines):
        if tokenized and not all(isinstance(token, str) for token in line):
            raise TypeError(f"lines[{number}] is a token list with an item that is not a string")
        if not tokenized and not isinstance(line, str):
            raise TypeError(f"lines[{number}] is {type(line).__name__}, not a string; decode bytes "
                            "first (line.decode('utf-8')) and pass '' for an empty line; or pass "
                            "every line as a list of tokens")
    return lines, tokenized


def target_prefix_ids(target_prefix, lines: int, tokenizer, vocab) -> list[list[int]] | None:
    """Each line's target prefix (text, tokens, or None) as target ids ([] for none);
    None when no line has one."""
    if target_prefix is None:
        return None
    if isinstance(target_prefix, str) or len(target_prefix) != lines:
        raise ValueError(f"target_prefix: give one prefix (or None) per line, {lines} in all")
    prefixes = [vocab.encode(tokenizer.encode(prefix) if isinstance(prefix, str) else list(prefix or []))
                for prefix in target_prefix]
    return prefixes if any(prefixes) else None
