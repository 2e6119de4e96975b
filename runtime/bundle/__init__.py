"""The bundle: its spec and what loads it.

Here live the manifest and its JSON Schema (manifest.py), every graph input and output
name (graph_names.py), the model config (config.py), the tokenizers, vocabularies and
tables a bundle ships (tokens.py, shortlist.py), the onnxruntime sessions of its graphs
(graphs.py, and ensemble.py for several bundles decoded as one) and `s2s-batch info`
(info.py). Modules here import only each other, runtime/errors.py and
runtime/batching.py: never search/, files/, cli/ or the translator.
"""
