"""The lab file: lab, benches, instruments and journal, validated by pydantic.

Every problem is reported at once as ``file: path.to.field: message``. Secrets never live in
the file: settings that need one name an environment variable instead.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from daq.alarms import AlarmRule
from daq.core.plugins import Plugin, PluginError, find
from daq.signing import SigningSettings
from daq.sinks.settings import ALL_STREAMS, InfluxSettings, MqttSettings
from drivers.registry import driver_class
from drivers.transports.settings import Connection

_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _identifier(value: str) -> str:
    if not _IDENTIFIER.match(value):
        raise ValueError(
            f"{value!r} is not an id: use up to 64 letters, digits, '-', '_' or '.', "
            "starting with a letter or digit"
        )
    return value


Identifier = Annotated[str, AfterValidator(_identifier)]

LAB_ENV = "DAQ_LAB"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LabInfo(_Strict):
    id: Identifier
    name: str = ""
    address: str = ""
    email: str = ""
    """The laboratory's e-mail address (a Digital Calibration Certificate carries it)."""
    country: Annotated[str, Field(pattern=r"^([A-Z]{2})?$")] = ""
    """ISO 3166-1 alpha-2 code of the laboratory's country, e.g. VN (needed for a DCC)."""


class JournalConfig(_Strict):
    path: Path = Path("data/daq.sqlite")
    batch_interval: float = Field(
        0.5, gt=0, le=60, description="seconds between commits; at most this much is lost on kill"
    )
    memory_limit: int = Field(
        1_000_000,
        ge=1000,
        description="readings held in memory while the journal cannot be written (disk full); "
        "beyond, the oldest are dropped and counted in a readings_lost event",
    )
    spill: Path | None = Field(
        None,
        description="folder for the spill file written at stop when the journal cannot be "
        "(default: beside the journal, so on the same disk: name another disk to be safe)",
    )
    close_timeout: float = Field(
        10.0, gt=0, le=600, description="seconds a stop keeps trying to write before spilling"
    )


class InstrumentConfig(_Strict):
    id: Identifier
    driver: str
    role: str
    connection: Connection
    poll_interval: float = Field(1.0, gt=0, le=86400, description="seconds between readings")
    simulate: bool = Field(False, description="served by the built-in simulator")
    description: str = ""
    settings: dict[str, Any] = Field(default_factory=dict, description="driver settings")
    simulator: dict[str, Any] = Field(default_factory=dict, description="simulator settings")


class BenchConfig(_Strict):
    id: Identifier
    name: str = ""
    instruments: list[InstrumentConfig] = Field(default_factory=list)


NUMBER_FIELDS = {"lab": "demo-lab", "bench": "bench-1", "year": 2026, "seq": 1}
"""The placeholders a certificate number may use, with values to try a format on."""


def _number_format(value: str) -> str:
    """A format of certificate numbers that yields a new number for each certificate."""
    try:
        value.format(**NUMBER_FIELDS)
    except Exception as exc:  # any field or format the placeholders do not have
        raise ValueError(
            f"cannot make a number from {value!r} ({type(exc).__name__}: {exc}); use {{lab}}, "
            "{bench}, {year} and {seq} (for example {lab}-{bench}-{year}-{seq:04d})"
        ) from None
    if "{seq" not in value or "{year" not in value:
        raise ValueError(
            "a certificate number needs {seq} and {year}: the running number starts again "
            "each year, so without the year the numbers of one year repeat the last"
        )
    return value


def _login_name(value: str) -> str:
    """A signature image's key: the login name of a user (a full name is not one)."""
    from daq.people import USER_NAME

    if not USER_NAME.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a login name: signature images are by the login name of a "
            "user (`daq users list`), e.g. ha.tran"
        )
    return value


class DccSigning(_Strict):
    key_file: Path
    """PEM private key (ECDSA or RSA, mode 600) that signs DCCs; relative to the lab file."""
    certificate: Path
    """Its X.509 certificate (PEM), which `daq dcc verify` holds a signature to."""


class CertificateSettings(_Strict):
    accreditation: str = ""
    """The laboratory's accreditation, as printed under its name."""
    number_format: Annotated[str, AfterValidator(_number_format)] = "{lab}-{bench}-{year}-{seq:04d}"
    """Certificate numbers: {lab} the lab id, {bench} the bench of the run's UUT, {year},
    {seq} the year's running number (of the journal that issues it)."""
    language: str = "en"
    template: Path | None = None
    """The lab's own HTML template (Jinja2); relative to the lab file. Default: the
    packaged daq/reports/templates/certificate.html, a good starting copy."""
    dcc_signing: DccSigning | None = None
    """The key and certificate that sign DCCs (`daq report --format dcc --sign`)."""
    signatures: dict[Annotated[str, AfterValidator(_login_name)], Path] = Field(
        default_factory=dict
    )
    """Images (PNG, JPEG or SVG) of the handwritten signatures of the authorisers, by their
    login name (`daq users`); relative to the lab file. Printed only on a certificate that
    user issued with their password, never for a name typed (`daq report --by`)."""


class PluginSettings(_Strict):
    allow: list[str] | None = None
    """Distributions (pip names) whose drivers, simulators, procedures and sinks this lab
    may use; none: every one installed. benchdaq's own are always allowed."""


class SinkConfig(_Strict):
    type: str
    """The sink's name in the ``benchdaq.sinks`` entry points (``influxdb``, a plugin's)."""
    name: Identifier | None = None
    """Unique among the lab's sinks, the key of its place in the journal (default: type)."""
    settings: dict[str, Any] = Field(default_factory=dict, description="the sink's settings")

    @property
    def key(self) -> str:
        return self.name or self.type


class AgentSettings(_Strict):
    due_warning_days: int = Field(30, ge=0)
    """Warn this many days before a standard's calibration is due."""
    due_check_interval: float = Field(86400.0, gt=0)
    """Seconds between checks of the standards' due dates."""
    anchor_interval: float = Field(300.0, gt=0)
    """Seconds between anchors of the monitored reading streams (kept, signed where the lab
    signs, and published retained on MQTT); a last one is made at stop."""
    phase_slots: int | None = Field(None, ge=1, le=10_000)
    """Instruments polled at one interval are spread over this many evenly spaced starting
    times within it, instead of all coming due in the same instant each interval (a burst
    of hundreds of polls that delays the last of them); 1: all at once. None: enough slots
    that each holds at most 25 instruments, and at least 10 (docs/PERFORMANCE.md)."""


LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def split_listen(text: str) -> tuple[str, int]:
    """HOST:PORT of the console, checked."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:8080)")
    return host.strip("[]"), int(port)


def _listen(text: str) -> str:
    split_listen(text)
    return text


class WebSettings(_Strict):
    """The operator console in the browser (``daq agent`` serves it, ``daq web`` alone)."""

    listen: Annotated[str, AfterValidator(_listen)] = "127.0.0.1:8080"
    """HOST:PORT. Plain HTTP only on the loopback (alone, or behind a reverse proxy on the
    same PC that terminates HTTPS: ``behind_proxy``); elsewhere HTTPS (``certificate`` and
    ``key``)."""
    certificate: Path | None = None
    """The lab's server certificate (PEM), with its chain; relative to the lab file."""
    key: Path | None = None
    behind_proxy: bool = False
    """HTTPS is terminated by a reverse proxy on the same PC, which alone reaches the console
    on the loopback (cookies are sent Secure; the address of a login is the proxy's
    ``X-Forwarded-For``)."""
    session_timeout: float = Field(1800.0, gt=0, le=86400)
    """Seconds of inactivity after which a login ends."""

    @model_validator(mode="after")
    def _secure_off_the_loopback(self) -> WebSettings:
        host, _ = split_listen(self.listen)
        if (self.certificate is None) != (self.key is None):
            raise ValueError("give both certificate and key, or neither")
        if host in LOOPBACK or self.certificate is not None:
            return self
        if self.behind_proxy:  # plain HTTP would cross the network between proxy and console
            raise ValueError(
                f"behind_proxy: the console behind a reverse proxy listens on the loopback "
                f"(127.0.0.1:PORT), where only the proxy on the same PC reaches it; on {host} "
                "it needs HTTPS of its own: give certificate and key"
            )
        raise ValueError(
            f"the console on {host} needs HTTPS: give certificate and key, or listen on "
            "127.0.0.1 with behind_proxy: true behind a reverse proxy on the same PC that "
            "terminates HTTPS"
        )

    @property
    def secure(self) -> bool:
        """Cookies are sent only over HTTPS: always but on plain HTTP on the loopback."""
        return self.certificate is not None or self.behind_proxy


class LabConfig(_Strict):
    lab: LabInfo
    journal: JournalConfig = Field(default_factory=JournalConfig)
    standards: Path | None = None
    """The register of reference standards; a relative path is relative to the lab file."""
    plans: Path = Path("plans")
    """Folder of calibration plans (YAML); relative to the lab file."""
    procedures: Path | None = None
    """The lab's own folder of procedure scripts, besides the installed ones; relative to the
    lab file. Procedures are loaded from nowhere else."""
    benches: list[BenchConfig] = Field(min_length=1)
    influxdb: InfluxSettings | None = None
    """Stream the journal to InfluxDB (or VictoriaMetrics); none: not streamed."""
    mqtt: MqttSettings | None = None
    """Stream to an MQTT broker and take commands from it; none: no MQTT."""
    sinks: list[SinkConfig] = Field(default_factory=list)
    """More sinks, built in or from plugins, each fed from the journal like the two above."""
    plugins: PluginSettings = Field(default_factory=lambda: PluginSettings())
    alarms: list[AlarmRule] = Field(default_factory=list)
    """Alarm rules the agent applies to the readings it polls."""
    agent: AgentSettings = Field(default_factory=lambda: AgentSettings())
    certificates: CertificateSettings = Field(default_factory=lambda: CertificateSettings())
    signing: SigningSettings | None = None
    """Sign each run's record and each certificate with the lab's key; none: unsigned."""
    web: WebSettings | None = None
    """The operator console; none: not served by the agent (``daq agent --web`` serves it)."""
    _file: str = PrivateAttr("<lab file>")

    @property
    def file(self) -> str:
        """Where the lab was read from, for messages that name a field of it."""
        return self._file

    def sink_streams(self) -> dict[str, list[str]]:
        """The journal streams each sink takes, by its name in the journal: a sink's backlog
        counts only those (a sink of readings alone has no backlog of events)."""
        streams: dict[str, list[str]] = {}
        if self.influxdb is not None:
            streams["influxdb"] = list(self.influxdb.streams)
        if self.mqtt is not None:
            streams["mqtt"] = list(self.mqtt.streams)
        for entry in self.sinks:
            chosen = entry.settings.get("streams")
            streams[entry.key] = list(chosen) if isinstance(chosen, list) else list(ALL_STREAMS)
        return streams

    def bench_of(self) -> dict[str, str]:
        """Instrument id -> bench id."""
        return {i.id: b.id for b, i in self.instruments()}

    def instruments(self) -> Iterator[tuple[BenchConfig, InstrumentConfig]]:
        for bench in self.benches:
            for instrument in bench.instruments:
                yield bench, instrument

    def instrument(self, instrument_id: str) -> InstrumentConfig:
        for _, instrument in self.instruments():
            if instrument.id == instrument_id:
                return instrument
        known = ", ".join(i.id for _, i in self.instruments())
        raise KeyError(f"no instrument {instrument_id!r} in the lab file; configured: {known}")


@dataclass(frozen=True)
class Problem:
    file: str
    path: str
    message: str

    def __str__(self) -> str:
        return (
            f"{self.file}: {self.path}: {self.message}"
            if self.path
            else f"{self.file}: {self.message}"
        )


class ConfigError(Exception):
    """The lab file has problems; ``problems`` lists every one of them."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


def field_path(raw: Any, loc: tuple[int | str, ...]) -> str:
    """``benches[bench-1].instruments[balance-1].connection.baudrate`` from a pydantic loc."""
    text = ""
    node = raw
    for index, part in enumerate(loc):
        if isinstance(part, int):
            item = node[part] if isinstance(node, list) and part < len(node) else None
            label = item.get("id") if isinstance(item, dict) else None
            text += f"[{label}]" if isinstance(label, str) else f"[{part}]"
            node = item
        else:
            # discriminated unions insert the tag (e.g. "serial") into the location
            after_connection = index > 0 and loc[index - 1] == "connection"
            if after_connection and isinstance(node, dict) and node.get("type") == part:
                continue
            text += f".{part}" if text else part
            node = node.get(part) if isinstance(node, dict) else None
    return text


def message_of(error: Any) -> str:
    """A pydantic error as the lab file's reader needs it."""
    message = str(error["msg"])
    if error["type"] == "extra_forbidden":
        return "unknown field (check the spelling)"
    if error["type"] == "union_tag_invalid":
        return "type must be one of serial, tcp, visa, modbus_tcp, modbus_rtu, manual"
    return message.removeprefix("Value error, ")


def _plugin_problem(plugin: Plugin, message: str) -> str:
    """A message about a plugin's own settings says which plugin judged them."""
    return message if plugin.builtin else f"{message} (plugin {plugin})"


def _instrument_problems(
    file: str, raw: Any, bench: int, index: int, instrument: dict[str, Any], allow: Any
) -> list[Problem]:
    """Checks that need the driver: its name, roles, transport kind and own settings."""
    base: tuple[int | str, ...] = ("benches", bench, "instruments", index)
    problems: list[Problem] = []

    def add(loc: tuple[int | str, ...], message: str) -> None:
        problems.append(Problem(file, field_path(raw, base + loc), message))

    family = instrument.get("driver")
    if not isinstance(family, str):
        return problems
    try:
        plugin = find("drivers", family, allow if isinstance(allow, list) else None)
        cls = driver_class(family)
    except PluginError as exc:
        add(("driver",), str(exc))
        return problems
    role = instrument.get("role")
    if isinstance(role, str) and role not in cls.roles:
        add(("role",), f"driver {family} can be {', '.join(sorted(cls.roles))}, not {role!r}")
    connection = instrument.get("connection")
    kind = connection.get("type") if isinstance(connection, dict) else None
    kinds = {
        "line": {"serial", "tcp", "visa"},
        "modbus": {"modbus_tcp", "modbus_rtu"},
        "operator": {"manual"},
    }
    if isinstance(kind, str) and any(kind in group for group in kinds.values()):
        wanted = kinds[cls.link]
        if kind not in wanted:
            add(("connection", "type"), f"driver {family} talks over {', '.join(sorted(wanted))}")
    try:
        cls.Settings.model_validate(instrument.get("settings") or {})
    except ValidationError as exc:
        for error in exc.errors():
            add(("settings", *error["loc"]), _plugin_problem(plugin, message_of(error)))
    return problems


def _sink_problems(file: str, raw: Any, allow: Any) -> list[Problem]:
    """Each ``sinks:`` entry: a sink installed and allowed, its settings valid, its name
    unique (the built-in sections take the names influxdb and mqtt)."""
    problems: list[Problem] = []
    sinks = raw.get("sinks")
    taken = {name for name in ("influxdb", "mqtt") if raw.get(name) is not None}
    for index, sink in enumerate(sinks if isinstance(sinks, list) else []):
        kind = sink.get("type") if isinstance(sink, dict) else None
        if not isinstance(kind, str):
            continue
        key = sink.get("name") or kind

        def add(field: tuple[int | str, ...], message: str, at: int = index) -> None:
            problems.append(Problem(file, field_path(raw, ("sinks", at, *field)), message))

        if key in taken:
            add(("name",), f"another sink is called {key!r}: give each sink its own name")
        taken.add(key)
        try:
            plugin = find("sinks", kind, allow if isinstance(allow, list) else None)
            model = plugin.load().Settings
        except (PluginError, AttributeError) as exc:
            add(("type",), str(exc))
            continue
        try:
            model.model_validate(sink.get("settings") or {})
        except ValidationError as exc:
            for error in exc.errors():
                add(("settings", *error["loc"]), _plugin_problem(plugin, message_of(error)))
    return problems


def _semantic_problems(file: str, raw: Any) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    plugins = raw.get("plugins") if isinstance(raw, dict) else None
    allow = plugins.get("allow") if isinstance(plugins, dict) else None
    benches = raw.get("benches") if isinstance(raw, dict) else None
    for b, bench in enumerate(benches if isinstance(benches, list) else []):
        instruments = bench.get("instruments") if isinstance(bench, dict) else None
        for i, instrument in enumerate(instruments if isinstance(instruments, list) else []):
            if not isinstance(instrument, dict):
                continue
            problems += _instrument_problems(file, raw, b, i, instrument, allow)
            ident = instrument.get("id")
            path = field_path(raw, ("benches", b, "instruments", i, "id"))
            if isinstance(ident, str):
                if ident in seen:
                    problems.append(
                        Problem(file, path, f"duplicate id {ident!r} (also {seen[ident]})")
                    )
                seen.setdefault(ident, path)
    problems += _sink_problems(file, raw, allow)
    certificates = raw.get("certificates") if isinstance(raw, dict) else None
    number_format = certificates.get("number_format") if isinstance(certificates, dict) else None
    several = isinstance(benches, list) and len(benches) > 1
    if several and isinstance(number_format, str) and "{bench" not in number_format:
        problems.append(
            Problem(
                file,
                field_path(raw, ("certificates", "number_format")),
                "the lab has several benches, each journal numbering its own certificates: "
                "put {bench} in the number so that no two benches issue the same one",
            )
        )
    return problems


def parse_lab(text: str, file: str) -> LabConfig:
    """Validate a lab file's text; raises ConfigError listing every problem found."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError([Problem(file, "", f"{where}not valid YAML: {exc}")]) from exc
    if not isinstance(raw, dict):
        raise ConfigError([Problem(file, "", "expected a mapping with lab, benches, journal")])
    problems: list[Problem] = []
    config: LabConfig | None = None
    try:
        config = LabConfig.model_validate(raw)
    except ValidationError as exc:
        problems += [Problem(file, field_path(raw, e["loc"]), message_of(e)) for e in exc.errors()]
    problems += _semantic_problems(file, raw)
    if problems or config is None:
        raise ConfigError(problems)
    config._file = file
    return config


def default_lab_folder() -> Path:
    """Where the embedded default lab and its standards live: in the package, or the repo."""
    packaged = Path(str(resources.files("daq"))) / "data"
    if (packaged / "lab.yaml").is_file():
        return packaged
    return Path(__file__).resolve().parent.parent / "config"


def default_lab_text() -> str:
    """The embedded default lab: simulated instruments on all three transports."""
    return (default_lab_folder() / "lab.yaml").read_text(encoding="utf-8")


def _beside(lab: LabConfig, folder: Path, *, journal: bool = True) -> LabConfig:
    """Files the lab names relative to itself, made relative to where it was read from (the
    journal too, unless ``journal`` is false: the embedded default keeps it in ./data)."""
    update: dict[str, object] = {
        name: folder / path
        for name in ("standards", "plans", "procedures")
        if (path := getattr(lab, name)) is not None and not path.is_absolute()
    }
    kept = lab.journal
    if journal and not kept.path.is_absolute():
        kept = kept.model_copy(update={"path": folder / kept.path})
    if journal and kept.spill is not None and not kept.spill.is_absolute():
        kept = kept.model_copy(update={"spill": folder / kept.spill})
    update["journal"] = kept
    signing = lab.signing
    if signing is not None and signing.key_file and not signing.key_file.is_absolute():
        update["signing"] = signing.model_copy(update={"key_file": folder / signing.key_file})
    certificates = lab.certificates
    template = certificates.template
    if template is not None and not template.is_absolute():
        certificates = certificates.model_copy(update={"template": folder / template})
    if certificates.signatures:
        images = {
            name: path if path.is_absolute() else folder / path
            for name, path in certificates.signatures.items()
        }
        certificates = certificates.model_copy(update={"signatures": images})
    if (dcc := certificates.dcc_signing) is not None:
        beside = {
            name: path if path.is_absolute() else folder / path
            for name in ("key_file", "certificate")
            if (path := getattr(dcc, name)) is not None
        }
        certificates = certificates.model_copy(
            update={"dcc_signing": dcc.model_copy(update=beside)}
        )
    update["certificates"] = certificates
    if (web := lab.web) is not None:
        files = {
            name: path if path.is_absolute() else folder / path
            for name in ("certificate", "key")
            if (path := getattr(web, name)) is not None
        }
        update["web"] = web.model_copy(update=files)
    return lab.model_copy(update=update)


def load_lab(path: str | Path | None = None) -> LabConfig:
    """Load the lab file given, else ``$DAQ_LAB``, else the embedded default."""
    chosen = path or os.environ.get(LAB_ENV)
    if chosen is None:
        return _beside(
            parse_lab(default_lab_text(), "<embedded default lab>"),
            default_lab_folder(),
            journal=False,
        )
    file = Path(chosen)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            [Problem(str(file), "", f"cannot read the lab file: {exc.strerror}")]
        ) from exc
    return _beside(parse_lab(text, str(file)), file.parent)
