"""The lexical table behind vocabulary shortlists, learned from the training pairs."""

from __future__ import annotations

import numpy as np

from s2s_batch.runtime.bundle.shortlist import Shortlist
from s2s_batch.runtime.bundle.tokens import tokenize
from s2s_batch.train.data import Pair
from s2s_batch.train.learned_tables import build_vocab
from s2s_batch.train.lexicon import build_lexical_table
from tests.toy import make_pairs


def _toy_table(skip_frequent: int = 4):
    pairs = [Pair(tokenize(en), tokenize(fr)) for en, fr in make_pairs(600)]
    sv = build_vocab((p.src for p in pairs), 1)
    tv = build_vocab((p.tgt for p in pairs), 1)
    return build_lexical_table(pairs, sv, tv, per_source=10, skip_frequent=skip_frequent), sv, tv


def test_lexical_table_ranks_each_words_translation_first():
    table, sv, tv = _toy_table()
    for en, fr in [("cat", "chat"), ("dog", "chien"), ("bread", "pain"), ("big", "grand"),
                   ("eat", "mange"), ("red", "rouge")]:
        s = sv.token_to_idx[en]
        assert tv.idx_to_token[table.targets[table.offsets[s]]] == fr
    assert table.source_size == len(sv) and table.offsets[-1] == len(table.targets)


def test_lexical_table_leaves_out_the_frequent_words_every_shortlist_has():
    table, _, tv = _toy_table(skip_frequent=12)
    assert len(table.targets) and table.targets.min() >= 12


def test_shortlist_is_the_frequent_ids_and_each_source_words_first_candidates():
    table, sv, tv = _toy_table()
    shortlist = Shortlist(table, frequent=4, per_source=1)
    src = np.array([[sv.token_to_idx["cat"], sv.token_to_idx["dog"], sv.eos, sv.pad]])
    got = shortlist.candidates(src, len(tv))
    assert got.dtype == np.int64 and list(got) == sorted(got)
    assert set(tv.decode(got)) == {"<unk>", "<pad>", "<bos>", "<eos>", "chat", "chien"}


