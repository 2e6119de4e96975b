"""Ensemble decoding (runtime/bundle/ensemble.py): several bundles' log-probabilities averaged at
each step, through every search, the library and the CLI."""

import numpy as np
import pytest

from s2s_batch.runtime.bundle.graphs import Graphs
from s2s_batch.runtime.errors import UsageError
from s2s_batch.runtime.translator import Translator, default_bundle_dir
from tests.helpers import LINES, run


@pytest.fixture
def input_file(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    return path


SEARCHES = [{}, {"beam_size": 3, "num_hypotheses": 2}, {"sampling_topk": 4, "seed": 7},
            {"return_scores": True}, {"min_decoding_length": 3, "beam_size": 2}]


@pytest.mark.parametrize("options", SEARCHES)
def test_an_ensemble_of_one_bundle_twice_is_that_bundle(bundle, options):
    path = bundle("gru", attention="general+after")
    alone = Translator(path, threads=1).translate_batch(LINES, **options)
    twice = Translator(path, threads=1, ensemble=[path]).translate_batch(LINES, **options)
    assert [r.hypotheses for r in twice] == [r.hypotheses for r in alone]
    for a, b in zip(alone, twice):
        np.testing.assert_allclose(b.scores, a.scores, rtol=1e-5, atol=1e-5)


def test_the_step_averages_the_members_log_probabilities(bundle):
    paths = [bundle("gru"), bundle("lstm", attention="general"), bundle("gru", attention="general+after")]
    translator = Translator(paths[0], threads=1, ensemble=paths[1:])
    ensemble = translator.graphs
    members = [Graphs(m, ["CPUExecutionProvider"], 1) for m in (translator.manifest, *translator.ensemble_manifests)]
    src = np.array([[5, 6, 7, 3], [8, 3, 1, 1]], dtype=np.int64)
    src_len = np.array([4, 2], dtype=np.int64)
    tokens = np.full(2, translator.tgt_vocab.bos, dtype=np.int64)
    states, memory = ensemble.encode(src, src_len)
    mean, _, _ = ensemble.step_logits(tokens, states, memory)
    expected = []
    for graphs in members:
        s, m = graphs.encode(src, src_len)
        logits, _, _ = graphs.step_logits(tokens, s, m)
        shifted = logits - logits.max(axis=-1, keepdims=True)
        expected.append(shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True)))
    np.testing.assert_allclose(mean, np.mean(expected, axis=0), rtol=1e-5, atol=1e-5)
    ids, _, _ = ensemble.step(tokens, states, memory)
    assert ids.tolist() == mean.argmax(axis=-1).tolist()
    banned = np.array([int(ids[0])], dtype=np.int64)
    again, _, _ = ensemble.step(tokens, states, memory, banned=banned)
    assert again[0] != ids[0]


def test_members_must_share_their_tokens(bundle):
    with pytest.raises(UsageError, match="tokenizer"):
        Translator(bundle("gru"), ensemble=[default_bundle_dir()])


def test_the_shortlist_serves_one_bundle(bundle):
    with pytest.raises(UsageError, match="shortlist"):
        Translator(bundle("gru"), ensemble=[bundle("gru")], shortlist=True)


def test_cli_repeats_bundle_for_an_ensemble(bundle, input_file, tmp_path):
    a, b = bundle("gru"), bundle("lstm", attention="general")
    single = run("translate", input_file, "--bundle", a, "-q")
    both = run("translate", input_file, "--bundle", a, "--bundle", b, "-q")
    assert single.exit_code == 0 and both.exit_code == 0, both.output
    assert len(both.output.split("\n")) == len(single.output.split("\n"))
    expected = Translator(a, ensemble=[b]).translate_lines(LINES)
    assert both.output.split("\n")[: len(LINES)] == expected
    mixed = run("translate", input_file, "--bundle", a, "--bundle", default_bundle_dir(), "-q")
    assert mixed.exit_code == 2 and "share their tokenizers" in mixed.output


def test_ray_refuses_an_ensemble_in_one_line(bundle, input_file):
    a = bundle("gru")
    result = run("translate", input_file, "--bundle", a, "--bundle", a, "--ray", "-o", input_file.parent / "o.txt")
    assert result.exit_code == 2 and "without --ray" in result.output
