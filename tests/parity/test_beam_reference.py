"""Batched beam search against a plain eager-PyTorch reference, token for token."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from s2s_batch.runtime.bundle.tokens import tokenize
from s2s_batch.runtime.search.beam import beam_search
from s2s_batch.runtime.search.options import DecodingOptions
from s2s_batch.runtime.translator import Translator
from s2s_batch.train.checkpoint import load_checkpoint
from s2s_batch.train.predict import encode_sentence


@torch.no_grad()
def reference_beam_search(net, tokens, src_vocab, tgt_vocab, k, n_best, alpha, max_len, penalty_type="power"):
    """One sentence, eager PyTorch, written for reading rather than speed.

    At each step every live beam proposes every token; the 2K best proposals are walked
    best first: one ending in <eos> within the top K finishes a hypothesis, the first K
    others become the new beams. At max_len the beams finish as they are. The search
    stops early once no beam can enter the n-best (scores only fall; the length
    normalizer is largest at max_len). A hypothesis ranks by its total / length ** alpha,
    or with penalty_type "gnmt" by its total / ((5 + length) / 6) ** alpha.
    """
    state, memory = encode_sentence(net, tokens, src_vocab)
    norm = (lambda n: ((5 + n) / 6) ** alpha) if penalty_type == "gnmt" else (lambda n: n ** alpha)
    beams = [([], [], 0.0, state)]  # (tokens, token log-probs, total, decoder state)
    finished = []  # (tokens, token log-probs, total / norm)
    for t in range(max_len):
        proposals = []
        for b, (toks, _steps, total, st) in enumerate(beams):
            last = toks[-1] if toks else tgt_vocab.bos
            logits, new_state = net.decoder(torch.tensor([[last]]), st, memory)
            logp = torch.log_softmax(logits[0, 0], dim=-1).tolist()
            for tok, lp in enumerate(logp):
                proposals.append((total + lp, b * len(logp) + tok, b, tok, lp, new_state))
        proposals.sort(key=lambda p: (-p[0], p[1]))
        new_beams = []
        for rank, (total, _, b, tok, lp, st) in enumerate(proposals[: 2 * k]):
            toks, steps = beams[b][0], beams[b][1] + [lp]
            if tok == tgt_vocab.eos:
                if rank < k:
                    finished.append((toks, steps, total / norm(len(steps))))
            elif len(new_beams) < k:
                new_beams.append((toks + [tok], steps, total, st))
        if t == max_len - 1:
            finished += [(toks, steps, total / norm(len(steps))) for toks, steps, total, _ in new_beams]
            break
        if len(finished) >= n_best:
            worst_kept = sorted(f[2] for f in finished)[-n_best]
            if new_beams[0][2] / norm(max_len) <= worst_kept:
                break
        beams = new_beams
    return sorted(finished, key=lambda f: -f[2])[:n_best]


@pytest.fixture(scope="module")
def lines(toy_sentences):
    return toy_sentences[:40]


@pytest.mark.parametrize("cell,seed_semantics,attention",
                         [("gru", False, "none"), ("lstm", True, "none"), ("gru", False, "additive")])
@pytest.mark.parametrize("k", [1, 2, 5])
@pytest.mark.parametrize("alpha,penalty_type", [(0.0, "power"), (1.0, "power"), (1.0, "gnmt")])
def test_batched_beam_search_equals_the_reference(cell, seed_semantics, attention, k, alpha, penalty_type,
                                                  trained, bundle, lines):
    net, cfg, sv, tv, _ = load_checkpoint(trained(cell, seed_semantics, attention))
    max_len = cfg.model.max_decode_len
    expected = [reference_beam_search(net, tokenize(line), sv, tv, k, k, alpha, max_len, penalty_type)
                for line in lines]
    translator = Translator(bundle(cell, seed_semantics, attention), threads=1)
    opts = DecodingOptions(beam_size=k, num_hypotheses=k, length_penalty=alpha,
                           length_penalty_type=penalty_type)
    for batch_size in (1, 7, 64):
        got = []
        for start in range(0, len(lines), batch_size):
            chunk = [translator.source_ids(line) for line in lines[start : start + batch_size]]
            width = cfg.model.num_steps if cfg.model.pad_source else max(map(len, chunk))
            src = np.full((len(chunk), width), sv.pad, dtype=np.int64)
            for i, row in enumerate(chunk):
                src[i, : len(row)] = row
            src_len = np.array([len(r) for r in chunk], dtype=np.int64)
            got += beam_search(translator.graphs, src, src_len, tv.bos, tv.eos, max_len, opts)
        for want, have in zip(expected, got):
            assert [h.ids for h in have] == [w[0] for w in want]
            for h, w in zip(have, want):
                assert h.token_scores == pytest.approx(w[1], abs=1e-4)
                assert h.rank_score == pytest.approx(w[2], abs=1e-4)


