"""Convene's benchmarks, run on demand with `make bench` (see bench/README.md)."""
