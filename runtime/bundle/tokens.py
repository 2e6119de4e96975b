"""Text to ids and back: the seed's word tokenizer, SentencePiece, vocabularies, truecasing.

The seed's text preprocessing is shared by training and the runtime. Word-level output
is lowercase (the seed's words), so a truecasing table maps each lowercase target word
to the form it most often has in the training targets away from the start of a sentence
("tom" → "Tom", "paris" → "Paris"); words that are mostly lowercase are not in it. The
first letter of the output is then capitalised, as the corpus's sentences are. The table
ships in word-level bundles as `truecase.txt` (lowercase TAB cased, one word per line).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from s2s_batch.runtime.bundle.manifest import SPECIAL_TOKENS, SRC_SPM_FILE, TGT_SPM_FILE, TRUECASE_FILE, Manifest
from s2s_batch.runtime.errors import BundleError

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


_SPACE_BEFORE = frozenset(",.!?")
# French text uses narrow and ordinary non-breaking spaces before ! and ?
_NBSP = str.maketrans({"\u202f": " ", "\xa0": " "})


def preprocess(text: str, lowercase: bool = True) -> str:
    """Non-breaking spaces to spaces, lowercase, a space before , . ! ? (the seed's rule).

    With lowercase=False the case is kept (to learn how each word is cased).
    """
    text = text.translate(_NBSP)
    text = text.lower() if lowercase else text
    out = []
    for i, char in enumerate(text):
        if i > 0 and char in _SPACE_BEFORE and text[i - 1] != " ":
            out.append(" ")
        out.append(char)
    return "".join(out)


def tokenize(text: str) -> list[str]:
    """Preprocess then split into word tokens.

    The seed splits on single spaces; splitting on any whitespace gives the same
    tokens on the corpus and never yields empty tokens on messy input.
    """
    return preprocess(text).split()


def detokenize(tokens: list[str]) -> str:
    """Join tokens into text, re-attaching '.' and ','; French keeps its space before '!' and '?'."""
    text = " ".join(tokens)
    return text.replace(" .", ".").replace(" ,", ",")


class WordTokenizer:
    """The seed's word level: lowercased, punctuation split off (what --preset d2l uses).

    With a recaser, decoded text is truecased (names capitalised, the first letter too).
    """

    kind = "word"

    def __init__(self, recaser=None):
        self.recaser = recaser

    def encode(self, text: str) -> list[str]:
        """The tokens of one line."""
        return tokenize(text)

    def encode_many(self, texts: list[str], threads: int = 1) -> list[list[str]]:
        """The tokens of each line (one thread: the splitting is Python)."""
        return [tokenize(text) for text in texts]

    def decode(self, tokens: list[str]) -> str:
        """One line of text from tokens."""
        return detokenize(tokens if self.recaser is None else self.recaser.apply(tokens))


class SentencePieceTokenizer:
    """Subword pieces of a SentencePiece model: cased, untokenized text in and out."""

    kind = "sentencepiece"

    def __init__(self, model_proto: bytes, name: str = "SentencePiece model"):
        try:
            import sentencepiece
        except ImportError:
            raise BundleError(f"{name}: this bundle uses SentencePiece subwords; "
                              "pip install sentencepiece") from None
        self.processor = sentencepiece.SentencePieceProcessor(model_proto=model_proto)

    def encode(self, text: str) -> list[str]:
        """The tokens of one line."""
        return self.processor.encode(text, out_type=str)

    def encode_many(self, texts: list[str], threads: int = 1) -> list[list[str]]:
        """The tokens of each line, in one call to SentencePiece on `threads` threads."""
        return self.processor.encode(list(texts), out_type=str, num_threads=threads) if texts else []

    def decode(self, tokens: list[str]) -> str:
        """One line of text from tokens."""
        return self.processor.decode_pieces(list(tokens))


class Recaser:
    """Restores the case of lowercase word tokens."""

    def __init__(self, table: dict[str, str]):
        self.table = table

    def apply(self, tokens: list[str]) -> list[str]:
        """The tokens in their usual case, the first one with a letter capitalised."""
        cased = [self.table.get(token, token) for token in tokens]
        for i, token in enumerate(cased):
            if any(ch.isalpha() for ch in token):
                at = next(j for j, ch in enumerate(token) if ch.isalpha())
                cased[i] = token[:at] + token[at].upper() + token[at + 1 :]
                break
        return cased

    def save(self, path: Path) -> None:
        """lowercase TAB cased, one word per line, sorted."""
        Path(path).write_text("".join(f"{k}\t{v}\n" for k, v in sorted(self.table.items())),
                              encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Recaser:
        """Read a table written by `save`; a malformed one is a BundleError."""
        table = {}
        try:
            for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
                lower, cased = line.split("\t")
                if cased.lower() != lower:
                    raise ValueError(f"line {number}: {cased!r} is not a casing of {lower!r}")
                table[lower] = cased
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise BundleError(f"{path}: unreadable truecasing table ({exc}); re-export the bundle") from None
        return cls(table)


def load_tokenizers(manifest: Manifest, truecase: bool = True):
    """The bundle's (source, target) tokenizers: SentencePiece models, or the seed's words
    (the target cased by the bundle's truecasing table unless `truecase` is False)."""
    if manifest.config.tokenizer == "word":
        cased = truecase and TRUECASE_FILE in manifest.files
        return WordTokenizer(), WordTokenizer(Recaser.load(manifest.path(TRUECASE_FILE)) if cased else None)
    tokenizers = []
    for name in (SRC_SPM_FILE, TGT_SPM_FILE):
        path = manifest.path(name)
        try:
            tokenizer = SentencePieceTokenizer(path.read_bytes(), str(path))
        except (OSError, RuntimeError) as exc:
            raise BundleError(f"{path}: unreadable SentencePiece model ({exc}); re-export the bundle") from None
        if tokenizer.processor.get_piece_size() <= len(SPECIAL_TOKENS):
            raise BundleError(f"{path}: an empty SentencePiece model ({tokenizer.processor.get_piece_size()} "
                              "pieces); re-export the bundle")
        tokenizers.append(tokenizer)
    return tuple(tokenizers)


def load_vocab(manifest: Manifest, side: str) -> Vocab:
    """The bundle's "src" or "tgt" vocabulary, checked against the model's size and the
    manifest's special token ids."""
    path = manifest.path(manifest.vocabularies[side])
    expected = manifest.config.src_vocab_size if side == "src" else manifest.config.tgt_vocab_size
    try:
        vocab = Vocab.load(path)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BundleError(f"{path}: unreadable vocabulary ({exc}); re-export the bundle") from None
    if len(vocab) != expected:
        raise BundleError(f"{path}: {len(vocab)} tokens but the model expects {expected}; "
                          "the vocabulary does not belong to these graphs, re-export the bundle")
    ids = {"unk": vocab.unk, "pad": vocab.pad, "bos": vocab.bos, "eos": vocab.eos}
    if ids != manifest.special_tokens[side]:
        raise BundleError(f"{path}: special token ids {ids} differ from the manifest's "
                          f"{manifest.special_tokens[side]}; re-export the bundle")
    return vocab
