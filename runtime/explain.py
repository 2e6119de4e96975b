"""Where the model looked: a sentence's translation with its attention over the source."""

from __future__ import annotations

from dataclasses import dataclass

from s2s_batch.runtime.bundle.tokens import EOS
from s2s_batch.runtime.errors import UsageError


@dataclass
class Explanation:
    """A translation, the source tokens the encoder read and the target tokens (each with
    <eos> last), and per target token its attention weights over the source tokens."""

    translation: str
    source: list[str]
    target: list[str]
    attention: list[list[float]]

    def lines(self, top: int = 3) -> list[str]:
        """The translation, then per target token its `top` most attended source tokens."""
        out = [self.translation]
        for token, weights in zip(self.target, self.attention):
            best = sorted(range(len(weights)), key=lambda j: -weights[j])[:top]
            out.append(f"  {token:<14} " + "  ".join(f"{self.source[j]} {weights[j]:.2f}" for j in best))
        return out


def explain(translator, sentence: str, beam_size: int = 1) -> Explanation:
    """Translate one sentence and keep its attention (models with attention only)."""
    result = translator.translate_batch([sentence], beam_size=beam_size, return_attention=True)[0]
    if not result.hypotheses:
        raise UsageError("SENTENCE is blank; give the sentence to translate in quotes")
    source = translator.src_tokenizer.encode(sentence)[: translator.config.num_steps - 1] + [EOS]
    target = translator.tgt_vocab.decode(result.ids[0])
    target += [EOS] * (len(result.attention[0]) - len(target))
    return Explanation(result.best, source, target, result.attention[0])
