"""Destinations: one module per transport."""
