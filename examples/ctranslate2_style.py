"""A script in the shape of CTranslate2's Python API, run on s2s-batch.

Written for CTranslate2 it would start `import ctranslate2` and pass token lists
(`sp.encode(line, out_type=str)`); s2s-batch takes text and tokenizes with its bundle.
Those are the only two differences:

    python examples/ctranslate2_style.py [BUNDLE_DIR] < input.txt
"""

from __future__ import annotations

import sys

import s2s_batch as ctranslate2  # was: import ctranslate2


def main(model_dir: str | None, lines: list[str]) -> list[str]:
    """Translate `lines` three ways and score the best translations; returns the report."""
    report = []
    translator = ctranslate2.Translator(model_dir, device="cpu", compute_type="default",
                                        inter_threads=1, intra_threads=1)
    results = translator.translate_batch(lines, max_batch_size=16, beam_size=4, num_hypotheses=2,
                                         length_penalty=1.0, max_decoding_length=64,
                                         return_scores=True)
    for result in results:
        for hypothesis, score in zip(result.hypotheses, result.scores):
            report.append(f"{score:.4f}\t{hypothesis}")
    best = [result.hypotheses[0] if result.hypotheses else "" for result in results]
    for result in translator.translate_iterable(iter(lines), max_batch_size=8, beam_size=4,
                                                num_hypotheses=2, length_penalty=1.0,
                                                max_decoding_length=64, return_scores=True):
        report.append(f"{result.scores[0]:.4f}\t{result.hypotheses[0]}" if result.hypotheses else "")
    for scored in translator.score_batch(lines, best):
        report.append(f"{sum(scored.log_probs):.4f}\t{len(scored.tokens)} tokens")
    return report


if __name__ == "__main__":
    print("\n".join(main(sys.argv[1] if len(sys.argv) > 1 else None, sys.stdin.read().splitlines())))
