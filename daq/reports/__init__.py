"""Calibration certificates from a run's result document: HTML and PDF in the lab's
template and language, with plots, the traceability of the standards and the record hash."""
