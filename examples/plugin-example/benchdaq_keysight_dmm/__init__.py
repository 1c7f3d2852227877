"""benchdaq plugin: Keysight 34465A-class DMMs (driver, simulator) and a DC voltage
verification procedure; registered through entry points, loaded only when a lab uses them."""

__version__ = "0.1.0"
