"""Pytest fixtures and helpers that run against real infrastructure."""
