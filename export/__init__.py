"""s2s-export: a training checkpoint (or a bundle) → a verified model bundle.

bundle.py runs the pipeline (trace, graph passes, verify, lower precision, write);
onnx_export.py traces the encoder and one decoder step; context_gates, embedding_gates,
step_cells, output_head and loop_step rewrite the graphs for the runtime; verify.py checks
them against the eager model; quantize.py lowers precision; graph_io.py reads what a
graph takes; upgrade.py rewrites an older manifest; cli.py is the command. It may import
s2s_batch.train (the model) and s2s_batch.runtime.bundle (the spec it writes).
"""
