"""s2s-train: the seed's GRU encoder-decoder and its training run, in PyTorch.

config.py holds TrainConfig and the presets (the model's own ModelConfig is
runtime/bundle/config.py, which the checkpoint, the manifest and the CLI all read);
data.py reads and splits the corpus; model.py is the network; loss.py, curriculum.py,
augment.py, distill.py and pretrain.py are parts of the recipe; trainer.py runs it and
checkpoint.py saves it; learned_tables.py and lexicon.py learn the tables a bundle ships;
predict.py decodes eagerly for the parity tests; cli.py is the command. It may import
the runtime (the spec, the text rules, BLEU, atomic writes, the Translator that distill.py
runs); neither the runtime nor export's light modules import it.
"""
