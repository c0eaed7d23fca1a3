"""Benchmarks: run by hand or by `make bench`; they print figures and ratios, never assert."""
