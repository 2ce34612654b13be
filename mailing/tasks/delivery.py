"""Actors of the outbound path: fan-out batches and retries."""
