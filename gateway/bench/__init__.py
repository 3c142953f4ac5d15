"""Benchmarks that run the gateway for real on loopback and print measured figures."""
