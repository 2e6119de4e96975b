"""int8 prescoring as the runtime meets it: on by default, the same words without it, and
what the runtime feeds the decoder step for each search."""

from __future__ import annotations

import json

from s2s_batch.runtime.bundle.manifest import (
    LOGITS_ONLY_INPUT,
    MANIFEST,
    PRESCORE_INPUT,
    ROW_CANDIDATES_INPUT,
)
from s2s_batch.runtime.translator import Translator


def test_bundles_prescore_by_default_and_translate_the_same_without(bundle, toy_sentences):
    folder = bundle("gru", attention="additive")
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["prescore"]["candidates"] >= 1
    assert PRESCORE_INPUT in manifest["graphs"]["decoder_step"]["inputs"]
    with_prescore = Translator(folder)
    assert with_prescore.graphs.prescores
    without = Translator(folder, prescore=False)
    assert not without.graphs.prescores
    assert with_prescore.translate_ids(toy_sentences) == without.translate_ids(toy_sentences)


def test_the_runtime_keeps_what_it_does_not_read_in_the_graph(bundle, toy_sentences):
    from s2s_batch.runtime.search.beam import MASKED_AT_MOST

    translator = Translator(bundle("gru"))
    feeds = []
    run = translator.graphs.decoder.run
    translator.graphs.decoder = type(
        "Spy", (), {"run": lambda self, names, feed: feeds.append(feed) or run(names, feed)})()

    def fed(**options):
        feeds.clear()
        assert all(translator.translate_ids(toy_sentences, **options)) and feeds
        return feeds

    # beam search: each row's best continuations only
    assert all(f[ROW_CANDIDATES_INPUT][0] == 3 + MASKED_AT_MOST and LOGITS_ONLY_INPUT not in f
               for f in fed(beam_size=3))
    # sampling reads the logits, without the argmax
    assert all(f[LOGITS_ONLY_INPUT] and ROW_CANDIDATES_INPUT not in f for f in fed(sampling_topk=5))
    # greedy search: the argmax only
    assert not any(LOGITS_ONLY_INPUT in f or ROW_CANDIDATES_INPUT in f for f in fed())
