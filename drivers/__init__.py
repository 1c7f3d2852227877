"""Instrument drivers: transports to the wire and one module per instrument family."""
