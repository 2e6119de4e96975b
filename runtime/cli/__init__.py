"""The `s2s-batch` command: thin click commands over the library.

main.py holds the commands, config_file.py the defaults read from `s2s-batch.toml`,
plots.py the explain command's heatmap. Modules here may import anything in the
runtime; nothing in the runtime imports them.
"""
