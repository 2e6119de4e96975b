"""The parallel corpus: reading, the split by English sentence, vocabularies and tensors."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch

from s2s_batch.runtime.bundle.tokens import Vocab, tokenize, with_eos

SPLITS = ("train", "dev", "test")


@dataclass
class Pair:
    src: list[str]
    tgt: list[str]


@dataclass
class HeldOut:
    """Distinct source sentences with every reference translation (for multi-reference BLEU)."""

    sources: list[list[str]]
    references: list[list[list[str]]]


def read_pairs(path: Path) -> list[tuple[str, str]]:
    """Raw (English, French) pairs from a tab-separated UTF-8 file; extra columns are ignored.

    Blank lines are skipped. A line without a tab, or with an empty side, or bytes that
    are not UTF-8, is a ValueError naming the file, the line and the fix; so is a file
    with no pair at all.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"corpus not found: {path}; --data takes a tab-separated English<TAB>French "
                                "file: the Tatoeba pairs (fra.txt in fra-eng.zip from "
                                "https://www.manythings.org/anki/, CC-BY 2.0 FR), or any corpus in that layout")
    pairs = []
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                raise ValueError(f"{path}:{number}: not UTF-8 (byte {exc.start + 1} of the line); "
                                 "convert the corpus to UTF-8, e.g. with iconv") from None
            if not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) < 2 or not parts[0].strip() or not parts[1].strip():
                what = "has no tab" if len(parts) < 2 else "has an empty side"
                raise ValueError(f"{path}:{number}: {what}; each line must be English, a tab, "
                                 "then French (further tab-separated columns are ignored)")
            pairs.append((parts[0], parts[1]))
    if not pairs:
        raise ValueError(f"{path}: no sentence pairs (the file is empty or blank); pass a "
                         "tab-separated English<TAB>French corpus")
    return pairs


def split_of(src_tokens: list[str], dev_permille: int, test_permille: int) -> str:
    """Deterministic split of a source sentence by the hash of its tokens.

    Hashing the preprocessed sentence puts every translation of it (and every
    variant that preprocesses the same) into one split.
    """
    digest = hashlib.sha256(" ".join(src_tokens).encode("utf-8")).digest()
    bucket = int.from_bytes(digest[:4], "big") % 1000
    if bucket < test_permille:
        return "test"
    if bucket < test_permille + dev_permille:
        return "dev"
    return "train"


def heldout_texts(raw: list[tuple[str, str]], split: str, dev_permille: int, test_permille: int,
                  cased: bool = True) -> list[tuple[str, list[str]]]:
    """The distinct English sentences of a held-out split as written, each with all its
    French references (as the corpus writes them if `cased`, else tokenized and joined),
    in corpus order: what `bench/heldout.py` writes and export's dev BLEU reads."""
    from s2s_batch.runtime.bundle.tokens import detokenize

    groups: dict[str, tuple[str, list[str]]] = {}
    for en, fr in raw:
        key = " ".join(tokenize(en))
        if split_of(key.split(), dev_permille, test_permille) == split:
            groups.setdefault(key, (en, []))[1].append(fr.strip() if cased else detokenize(tokenize(fr)))
    return list(groups.values())


def training_raw(raw: list[tuple[str, str]], dev_permille: int, test_permille: int,
                 max_pairs: int = 0) -> list[tuple[str, str]]:
    """The raw (English, French) pairs of the training split, the first max_pairs if set."""
    train = [(en, fr) for en, fr in raw
             if split_of(tokenize(en), dev_permille, test_permille) == "train"]
    return train[:max_pairs] if max_pairs else train


def split_corpus(raw: list[tuple[str, str]], dev_permille: int, test_permille: int,
                 max_pairs: int = 0, src_tokenizer=None,
                 tgt_tokenizer=None) -> tuple[list[Pair], HeldOut, HeldOut]:
    """Train pairs (the first max_pairs, if set) and grouped dev/test sentences.

    The split is always by the word-level English sentence, whatever the tokenizers
    (default: word level), so every vocabulary sees the same held-out sentences.
    """
    train: list[Pair] = []
    held: dict[str, dict[str, list]] = {"dev": {}, "test": {}}
    for en, fr in raw:
        words = tokenize(en)
        split = split_of(words, dev_permille, test_permille)
        src = src_tokenizer.encode(en) if src_tokenizer else words
        tgt = tgt_tokenizer.encode(fr) if tgt_tokenizer else tokenize(fr)
        if split == "train":
            if not max_pairs or len(train) < max_pairs:
                train.append(Pair(src, tgt))
        else:
            held[split].setdefault(" ".join(src), [src, []])[1].append(tgt)
    dev, test = (HeldOut([v[0] for v in held[s].values()], [v[1] for v in held[s].values()])
                 for s in ("dev", "test"))
    return train, dev, test


def truncate_pad(ids: list[int], num_steps: int, pad: int) -> list[int]:
    """The seed's truncate_pad."""
    if len(ids) > num_steps:
        return ids[:num_steps]
    return ids + [pad] * (num_steps - len(ids))


def to_tensor(sentences: list[list[str]], vocab: Vocab, num_steps: int, seed_semantics: bool):
    """Ids with <eos>, cut to num_steps and padded; returns (ids [B,T], valid_len [B]).

    With seed_semantics every row is padded to num_steps (the seed's batches);
    otherwise the batch is padded only to its longest sentence.
    """
    rows = [with_eos(vocab.encode(s), vocab.eos, num_steps, seed_semantics) for s in sentences]
    width = num_steps if seed_semantics else max(len(r) for r in rows)
    ids = torch.tensor([truncate_pad(r, width, vocab.pad) for r in rows], dtype=torch.long)
    valid_len = torch.tensor([len(r) for r in rows], dtype=torch.long)
    return ids, valid_len
