"""Benchmarks, run on request: `python -m benchmarks.<name>`; never collected by pytest."""
