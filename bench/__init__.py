"""Benchmarks (`make bench`): measured speed, printed as tables. Not tests."""
