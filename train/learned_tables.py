"""What training learns from the corpus besides weights: vocabularies, SentencePiece
models, the truecasing table and the source side's usual case of each word. The runtime
only reads them (runtime/bundle/tokens.py, runtime/bundle/tokens.py, runtime/bundle/tokens.py,
runtime/text.py)."""

from __future__ import annotations

import collections
import re
from collections import Counter, defaultdict
from collections.abc import Iterable

from s2s_batch.runtime.bundle.tokens import RESERVED, Recaser, Vocab, preprocess


def build_vocab(sentences: Iterable[list[str]], min_freq: int) -> Vocab:
    """Count tokens; keep those seen at least min_freq times, most frequent first."""
    counter = collections.Counter(tok for sent in sentences for tok in sent)
    # Ties broken by the token itself so the order never depends on the corpus order.
    ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    kept = [tok for tok, freq in ranked if freq >= min_freq and tok not in RESERVED]
    return Vocab(list(RESERVED) + kept)


def train_sentencepiece(texts: list[str], vocab_size: int, model_type: str) -> bytes:
    """A SentencePiece model (its serialized proto) trained on `texts`."""
    import io

    import sentencepiece

    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(texts), model_writer=model, vocab_size=vocab_size,
        model_type=model_type, character_coverage=1.0, hard_vocab_limit=False,
        # Our vocabulary adds <unk> <pad> <bos> <eos> itself; SentencePiece only segments.
        unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1, input_sentence_size=1_000_000,
        shuffle_input_sentence=True, minloglevel=2)
    return model.getvalue()


def learn_truecasing(sentences: Iterable[str]) -> Recaser:
    """The most frequent form of each word outside the first position of raw sentences,
    for the words whose usual form is not lowercase."""
    forms: dict[str, Counter] = defaultdict(Counter)
    for sentence in sentences:
        for token in preprocess(sentence, lowercase=False).split()[1:]:
            forms[token.lower()][token] += 1
    table = {}
    for lower, counts in forms.items():
        # Ties go to the lowercase form, then to the alphabetically first.
        best = min(counts.items(), key=lambda kv: (-kv[1], kv[0] != lower, kv[0]))[0]
        if best != lower:
            table[lower] = best
    return Recaser(table)


def learn_source_casing(sentences: Iterable[str]) -> dict[str, str]:
    """Every word of raw source sentences (runs of letters), lowercase → its most frequent
    form away from the sentence's first word ("tom" → "Tom", "the" → "the"); a word seen
    only first is taken as lowercase. The runtime reads it to undo ALL CAPS and Title
    Case input (runtime/text.py)."""
    forms: dict[str, Counter] = defaultdict(Counter)
    for sentence in sentences:
        for position, word in enumerate(re.findall(r"[^\W\d_]+", sentence)):
            counts = forms[word.lower()]
            if position:
                counts[word] += 1
            else:
                counts.setdefault(word.lower(), 0)
    # Ties go to the lowercase form, then to the alphabetically first.
    return {lower: min(counts.items(), key=lambda kv: (-kv[1], kv[0] != lower, kv[0]))[0]
            for lower, counts in forms.items()}
