"""Transports: bytes or registers in and out, with timeouts, locks, retries and reconnects."""
