"""Benchmarks runnable as modules (python -m benchmarks.<name>); each exposes run() -> dict."""
