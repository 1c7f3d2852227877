"""The certificate's tolerance band is drawn from the tolerance itself: OIML R76-1 Table 6
limits step at the band edges (0.5 e up to 50 000 e, 1 e up to 200 000 e, 1.5 e above for
class I) instead of ramping between test points; a sloping tolerance stays a slope."""

from __future__ import annotations

import pytest

from daq.metrology.tolerance import OimlR76
from daq.reports.plots import SAMPLES, tolerance_band


def test_oiml_r76_limits_step_at_the_band_edges() -> None:
    # OIML R76-1:2006 Table 6, class I: MPE 0.5 e to 50 000 e, 1 e to 200 000 e, 1.5 e above
    tolerance = OimlR76(kind="oiml_r76", accuracy_class="I", e=0.001, unit="g")
    x, lower, upper = tolerance_band(lambda g: tolerance.limits(g, "g"), 10.0, 220.0)
    assert x == sorted(x) and lower == [-u for u in upper]
    assert set(upper) == {0.0005, 0.001, 0.0015}  # nothing in between: no ramp
    for edge, below, above in ((50.0, 0.0005, 0.001), (200.0, 0.001, 0.0015)):
        i = next(i for i, u in enumerate(upper) if u == above)
        assert upper[i - 1] == below
        assert x[i - 1] <= edge < x[i] and x[i] - x[i - 1] < 1e-9  # vertical at the edge


def test_a_sloping_tolerance_is_drawn_through_its_samples_without_steps() -> None:
    def percent_of_reading(nominal: float) -> tuple[float, float]:
        return -0.001 * nominal, 0.001 * nominal

    x, lower, upper = tolerance_band(percent_of_reading, 1.0, 10.0)
    assert lower == [-u for u in upper]
    assert len(x) == SAMPLES + 1
    assert upper[0] == pytest.approx(0.001) and upper[-1] == pytest.approx(0.01)
