"""Non-automatic weighing instruments per EURAMET cg-18 v4.0.

Three tests, each with reference weights the operator places (the simulated operator places
them on a simulated balance): repeatability (n loadings of one load), eccentricity (one load
at the centre and the four quarters of the pan), and errors of indication at the test loads.
Each error of indication E = I - m_ref gets the budget of cg-18 7.1 (rounding at zero and at
load, repeatability, eccentricity, reference mass, air buoyancy, drift of the weights) and a
conformity decision against the plan's tolerance (typically an OIML R76 class).
"""

from __future__ import annotations

import itertools
import statistics

from pydantic import BaseModel, ConfigDict, Field

from daq.engine.checks import Checkpoint
from daq.engine.context import Context, PlanError
from daq.engine.plan import Plan
from daq.engine.record import Point
from daq.metrology.air import (
    RHO_C,
    air_density_approximation,
    buoyancy_correction,
    buoyancy_uncertainty,
)
from daq.metrology.budget import (
    Budget,
    Contribution,
    certificate,
    rectangular,
    resolution,
    standard_deviation,
)
from daq.prompts import Action
from daq.standards import ConventionalMass, Use
from daq.units import convert
from drivers.roles import Balance

VERSION = "1.0"
UNIT = "g"
POSITIONS = ("centre", "front", "back", "left", "right")
"""cg-18 4.4.2: the centre and the four quarters of the load receptor."""


class Load(BaseModel):
    model_config = ConfigDict(extra="forbid")

    load: float = Field(gt=0)
    """Nominal test load, g."""
    weights: list[str] = Field(min_length=1)
    """Ids of the reference weights (standards register) that make it up."""


class Repeatability(Load):
    loadings: int = Field(5, ge=2, le=100)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resolution: float = Field(gt=0)
    """Scale interval d of the balance, g (rounding at zero and at load)."""
    repeatability: Repeatability
    eccentricity: Load
    """cg-18 5.3: a load of at least Max/3."""
    test_loads: list[Load] = Field(min_length=1)
    air_density_uncertainty: float = Field(0.012, ge=0)
    """kg/m³, standard uncertainty of the air density derived from the stated conditions."""
    weight_density_uncertainty: float = Field(60.0, ge=0)
    """kg/m³, standard uncertainty of a weight's density when its certificate gives none."""


def points(settings: Settings, uuts: list[str]) -> list[str]:
    return ["repeatability", "eccentricity"] + [
        f"indication {t.load:g} g" for t in settings.test_loads
    ]


def checkpoints(settings: Settings, plan: Plan) -> list[Checkpoint]:
    return [
        Checkpoint(
            f"indication {test.load:g} g",
            test.load,
            UNIT,
            {f"settings.test_loads.{i}.weights.{j}": w for j, w in enumerate(test.weights)},
        )
        for i, test in enumerate(settings.test_loads)
    ]


class _Weights:
    """The reference weights of one load: their mass, buoyancy and uncertainty in grams."""

    def __init__(self, ctx: Context, settings: Settings, load: Load) -> None:
        self.standards = [ctx.register.standard(w) for w in load.weights]
        env = ctx.plan.environment
        self.air_density = air_density_approximation(env.temperature, env.pressure, env.humidity)
        self.masses: list[ConventionalMass] = []
        for standard in self.standards:
            if not isinstance(standard.corrections, ConventionalMass):
                raise PlanError(f"{standard.id} is not a weight with a conventional mass")
            self.masses.append(standard.corrections)
        self.settings = settings
        self.nominal = load.load

    def uses(self, ctx: Context) -> list[Use]:
        return [
            ctx.use_standard(s, convert(m.nominal, m.unit, "g"), "g")
            for s, m in zip(self.standards, self.masses, strict=True)
        ]

    def conventional(self) -> float:
        return sum(convert(m.conventional_mass, m.unit, UNIT) for m in self.masses)

    def buoyancy(self) -> tuple[float, float]:
        """Correction and its standard uncertainty (cg-18 7.1.2), g."""
        correction = u2 = 0.0
        for mass in self.masses:
            m_c = convert(mass.conventional_mass, mass.unit, UNIT)
            density = mass.density or RHO_C
            u_density = 0.0 if mass.density else self.settings.weight_density_uncertainty
            correction += buoyancy_correction(m_c, self.air_density, density)
            u2 += (
                buoyancy_uncertainty(
                    m_c, self.air_density, self.settings.air_density_uncertainty, density, u_density
                )
                ** 2
            )
        return correction, u2**0.5

    def reference(self) -> float:
        """m_ref: conventional mass plus the buoyancy correction, g."""
        return self.conventional() + self.buoyancy()[0]

    def contributions(self, budget: Budget) -> None:
        """Reference mass (pieces fully correlated: cg-18 7.1.2.5), buoyancy and drift."""
        names = []
        drift = 0.0
        for standard, mass in zip(self.standards, self.masses, strict=True):
            u = standard.uncertainty
            expanded = convert(u.value, u.unit, UNIT)
            name = f"reference weight {standard.id}"
            m_c = convert(mass.conventional_mass, mass.unit, UNIT)
            budget.add(certificate(name, expanded, u.k, UNIT, -1.0, value=m_c))
            names.append(name)
            drift += expanded
        for first, second in itertools.combinations(names, 2):
            budget.correlate(first, second, 1.0)
        correction, u_buoyancy = self.buoyancy()
        budget.add(
            Contribution("air buoyancy of the weights", correction, u_buoyancy, UNIT, -1.0),
            # cg-18 7.1.2.4: the drift since calibration, here taken as ±U of the certificates
            rectangular("drift of the weights", drift, UNIT, -1.0),
        )

    def describe(self) -> str:
        return " + ".join(s.id for s in self.standards)


async def _weigh(
    ctx: Context, balance: Balance, balance_id: str, weights: _Weights, position: str
) -> float:
    """Place the load at ``position``, read the stable indication, take the load off."""
    await ctx.ask(
        f"Place {weights.describe()} ({weights.nominal:g} g) on the {position} of the pan",
        instrument=balance_id,
        action=Action(balance_id, "place", {"mass_g": weights.reference(), "position": position}),
    )
    reading = await ctx.read(balance.weigh)
    await ctx.ask(
        "Take the weights off the pan",
        instrument=balance_id,
        action=Action(balance_id, "remove", {}),
    )
    return convert(reading.value, reading.unit, UNIT)


async def run(ctx: Context, settings: Settings) -> None:
    uut = ctx.uuts[0]
    balance_id = uut.instrument
    balance = ctx.as_role(balance_id, Balance)
    await ctx.ask(
        "Clear the pan, check the balance is level and acclimatised",
        instrument=balance_id,
        action=Action(balance_id, "remove", {}),
    )

    if (repeat := ctx.done("repeatability")) is None:
        ctx.start_point("repeatability")
        weights = _Weights(ctx, settings, settings.repeatability)
        uses = weights.uses(ctx)
        await balance.zero()
        indications = [
            await _weigh(ctx, balance, balance_id, weights, "centre")
            for _ in range(settings.repeatability.loadings)
        ]
        repeat = await ctx.record(
            Point(
                key="repeatability",
                kind="repeatability",
                uut=uut.id,
                nominal=settings.repeatability.load,
                unit=UNIT,
                readings={"indication": indications},
                values={
                    "mean": statistics.fmean(indications),
                    "s": statistics.stdev(indications),
                    "dof": len(indications) - 1,
                },
                standards=[u.snapshot() for u in uses],
            )
        )

    if (eccentric := ctx.done("eccentricity")) is None:
        ctx.start_point("eccentricity")
        weights = _Weights(ctx, settings, settings.eccentricity)
        uses = weights.uses(ctx)
        await balance.zero()
        shown = {p: await _weigh(ctx, balance, balance_id, weights, p) for p in POSITIONS}
        deviations = {p: shown[p] - shown["centre"] for p in POSITIONS}
        eccentric = await ctx.record(
            Point(
                key="eccentricity",
                kind="eccentricity",
                uut=uut.id,
                nominal=settings.eccentricity.load,
                unit=UNIT,
                readings={p: [v] for p, v in shown.items()},
                values={
                    "max_deviation": max(abs(d) for d in deviations.values()),
                    **{f"deviation_{p}": d for p, d in deviations.items()},
                },
                standards=[u.snapshot() for u in uses],
            )
        )

    for test in settings.test_loads:
        key = f"indication {test.load:g} g"
        if ctx.done(key):
            continue
        ctx.start_point(key)
        weights = _Weights(ctx, settings, test)
        uses = weights.uses(ctx)
        await balance.zero()
        indication = await _weigh(ctx, balance, balance_id, weights, "centre")
        reference = weights.reference()
        error = indication - reference
        # cg-18 7.1: E = I + δI_dig0 + δI_digL + δI_rep + δI_ecc - (m_c + δm_c + δm_B + δm_D)
        budget = Budget("error of indication", UNIT).add(
            Contribution("indication", indication, 0.0, UNIT),
            resolution("rounding at zero", settings.resolution, UNIT),
            resolution("rounding of the indication", settings.resolution, UNIT),
            standard_deviation("repeatability", repeat.values["s"], UNIT, repeat.values["dof"]),
            # cg-18 7.1.1.4: |ΔI_ecc|max / (2 L_ecc) · I as the half-width of a rectangle
            rectangular(
                "eccentricity",
                eccentric.values["max_deviation"] / (2 * settings.eccentricity.load) * indication,
                UNIT,
            ),
        )
        weights.contributions(budget)
        judgement = ctx.judge(budget, nominal=test.load, at=reference)
        await ctx.record(
            Point.judged(
                judgement,
                key=key,
                kind="indication",
                uut=uut.id,
                nominal=test.load,
                unit=UNIT,
                readings={"indication": [indication]},
                values={
                    "indication": indication,
                    "reference": reference,
                    "conventional_mass": weights.conventional(),
                    "buoyancy_correction": weights.buoyancy()[0],
                    "air_density": weights.air_density,
                    "error": error,
                },
                standards=[u.snapshot() for u in uses],
            )
        )
