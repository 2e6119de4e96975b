"""A script written against CTranslate2's Python API, run on s2s-batch.

It tokenizes with SentencePiece itself and passes token lists, as a CTranslate2 user
does; it uses translate_batch (with return_scores, target_prefix and asynchronous),
translate_iterable and score_batch. Its only change is the import line:

    python examples/ctranslate2_style.py [BUNDLE_DIR] < input.txt

(BUNDLE_DIR: a SentencePiece bundle, by default the shipped one.)
"""

from __future__ import annotations

import sys
from pathlib import Path

import sentencepiece as spm

import s2s_batch as ctranslate2  # was: import ctranslate2


def main(model_dir: str, lines: list[str]) -> list[str]:
    """Translate `lines` four ways and score the best translations; returns the report."""
    report = []
    sp_source = spm.SentencePieceProcessor(model_file=str(Path(model_dir) / "src.spm.model"))
    sp_target = spm.SentencePieceProcessor(model_file=str(Path(model_dir) / "tgt.spm.model"))
    translator = ctranslate2.Translator(model_dir, device="cpu", compute_type="default",
                                        inter_threads=1, intra_threads=1)
    source = [sp_source.encode(line, out_type=str) for line in lines]

    results = translator.translate_batch(source, max_batch_size=16, beam_size=4, num_hypotheses=2,
                                         length_penalty=1.0, max_decoding_length=64,
                                         return_scores=True)
    for result in results:
        for hypothesis, score in zip(result.hypotheses, result.scores):
            report.append(f"{score:.4f}\t{sp_target.decode(hypothesis)}")
    best = [result.hypotheses[0] for result in results]

    for result in translator.translate_iterable(iter(source), max_batch_size=8, beam_size=4,
                                                num_hypotheses=2, length_penalty=1.0,
                                                max_decoding_length=64, return_scores=True):
        report.append(f"{result.scores[0]:.4f}\t{sp_target.decode(result.hypotheses[0])}")

    # The first two pieces of each best translation as its prefix: the search goes on from there.
    prefixed = translator.translate_batch(source, target_prefix=[tokens[:2] for tokens in best],
                                          beam_size=4, max_decoding_length=64)
    report += [sp_target.decode(result.hypotheses[0]) for result in prefixed]

    pending = translator.translate_batch(source, asynchronous=True, beam_size=4, max_decoding_length=64)
    report += [sp_target.decode(async_result.result().hypotheses[0]) for async_result in pending]

    for scored in translator.score_batch(source, best):
        report.append(f"{sum(scored.log_probs):.4f}\t{len(scored.tokens)} tokens")
    return report


if __name__ == "__main__":
    default = str(ctranslate2.default_bundle_dir())
    print("\n".join(main(sys.argv[1] if len(sys.argv) > 1 else default, sys.stdin.read().splitlines())))
