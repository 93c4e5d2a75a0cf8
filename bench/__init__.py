"""Benchmarks: measurements run by hand (see README.md), not tests."""
