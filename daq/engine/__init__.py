"""The calibration engine: plans, procedures, the context they run in, and run records."""
