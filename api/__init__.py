"""s2s-batch: batch translation with exported seq2seq models on onnxruntime.

    import s2s_batch

    with s2s_batch.Translator() as translator:          # the shipped fra-eng bundle
        results = translator.translate_batch(["Hello.", "I'm home."], beam_size=4)
        print(results[1].hypotheses[0], results[1].scores[0])

The names below load lazily, so `import s2s_batch.train` does not load onnxruntime.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

__all__ = ["AsyncTranslationResult", "ClosedError", "DecodingOptions", "FileOptions", "ScoringResult", "Stats",
           "TranslationResult", "Translator", "__version__", "default_bundle_dir"]

_HOMES = {
    "Translator": "s2s_batch.runtime.translator",
    "TranslationResult": "s2s_batch.runtime.results",
    "AsyncTranslationResult": "s2s_batch.runtime.results",
    "ClosedError": "s2s_batch.runtime.errors",
    "default_bundle_dir": "s2s_batch.runtime.translator",
    "ScoringResult": "s2s_batch.runtime.results",
    "Stats": "s2s_batch.runtime.results",
    "DecodingOptions": "s2s_batch.runtime.search.options",
    "FileOptions": "s2s_batch.runtime.files.options",
}

try:
    __version__ = version("s2s-batch")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module 's2s_batch' has no attribute {name!r}")
