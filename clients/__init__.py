"""Clients of the registers the gateway talks to."""
