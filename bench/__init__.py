"""Benchmarks and diagnoses: run each as a module from the repository root, e.g.
``python -m bench.quality.ranking --help`` (bench/README.md lists them)."""
