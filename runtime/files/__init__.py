"""File jobs: a file translated line for line, locally or on Ray.

options.py holds FileOptions (how to read, write and search), job.py the line reading,
the record formats and the one chunk loop, output.py the atomic and resumable output,
progress.py the progress bar, on_ray.py the Ray Data driver and actors. Modules here
import search/options.py, bundle/ (its manifest, for the Ray path), runtime/errors.py,
runtime/batching.py and each other; they take a Translator as an argument and never
import the CLI.
"""
