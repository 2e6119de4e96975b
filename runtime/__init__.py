"""The s2s-batch runtime: numpy + onnxruntime + a bundle, no torch.

translator.py is the library API (Translator); text.py readies a line's sentences for
the model and restores their translations; batching.py sorts them into batches;
call.py holds what one call asks (token lists, target prefixes, per-call settings);
results.py holds what comes back (TranslationResult, ScoringResult, Stats); explain.py shows
a translation's attention; evaluation.py and bleu.py score translations. Four folders
hold the rest, each importing only the ones before it in this list: bundle/ (the spec
and the sessions), search/ (decoding), files/ (file jobs, local and Ray), cli/ (the
commands). docs/architecture.md follows one sentence through them.
"""
__all__ = ["Translator"]


def __getattr__(name):
    # Lazy, so that importing the light modules (config, vocab) does not load onnxruntime.
    if name == "Translator":
        from s2s_batch.runtime.translator import Translator

        return Translator
    raise AttributeError(name)
