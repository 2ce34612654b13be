"""Actors of the inbound path: processing a stored message."""
