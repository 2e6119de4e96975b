"""Decoding: the options, the one step loop, and the strategies that choose tokens.

options.py holds DecodingOptions and Hypothesis; loop.py the one encode → step → choose
→ drop-finished loop on the host, with greedy search and forced decoding (scoring) as
its policies; beam.py and sampling.py are its other policies (each only chooses
tokens); strategies.py picks one for the options. On a device the greedy search runs
with its state bound there (device_loop.py) or as a fixed-shape loop step in CUDA
graphs (fixed_loop.py). Modules here import bundle/, runtime/errors.py and each other:
never files/, cli/, text.py or the translator.
"""
