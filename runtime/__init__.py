"""The s2s-batch runtime: numpy + onnxruntime + a bundle, no torch."""

__all__ = ["Translator"]


def __getattr__(name):
    # Lazy, so that importing the light modules (config, vocab) does not load onnxruntime.
    if name == "Translator":
        from s2s_batch.runtime.translator import Translator

        return Translator
    raise AttributeError(name)
