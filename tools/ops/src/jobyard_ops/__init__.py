"""Operator tooling for a Jobyard deployment: `jobyard-ops`."""
