"""File jobs: a file translated line for line, locally or on Ray.

options.py holds FileOptions (how to read, write and search), job.py the line reading,
the record formats, the one chunk step (translate_chunk) and the notable lines,
output.py the atomic and resumable output, progress.py the progress bar, on_ray.py the
Ray Data driver and its actors, scoring.py a file pair scored line for line. Modules
here take a Translator as an argument (only on_ray.py's actors build one, from the
bundle shipped to them) and import bundle/, search/options.py, runtime/results.py,
runtime/batching.py, runtime/errors.py and each other; never the CLI.
"""
