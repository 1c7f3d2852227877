"""Calibration procedures shipped with daq: one module per kind of calibration.

Each module has ``VERSION``, a pydantic ``Settings`` model for its plan's ``settings``,
``points(settings, uuts)`` listing the keys of the points it will record (for progress and
resume) and ``async run(ctx, settings)`` written against ``daq.engine.context.Context``.
"""
