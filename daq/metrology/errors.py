"""The one error the metrology library raises for inputs it cannot honestly compute with."""

from __future__ import annotations


class MetrologyError(ValueError):
    """An input outside what a formula or standard allows (a negative uncertainty, a
    temperature outside Callendar-Van Dusen's range...). The message names the input; a
    ValueError, so a plan check reports it as a problem with the field it came from."""
