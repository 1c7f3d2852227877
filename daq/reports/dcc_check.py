"""Checking a DCC as PTB defines it: against the official XSD (and the D-SI XSD it imports)
in a folder the user names, offline with xmlschema; and against PTB's Schematron rules, which
the ``dcclib`` package carries. Schematron warnings (a newer DCC version exists) are listed,
not failures."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DCC_NAMESPACE = "https://ptb.de/dcc"
SI_NAMESPACE = "https://ptb.de/si"
SCHEMA_FILES = {"3.1.2": ("dcc-3.1.2.xsd", "SI_Format-2.1.0.xsd")}
"""A DCC version -> its XSD and the D-SI XSD it imports, as named in a schema folder."""
SCHEMA_URLS = {
    "3.1.2": (
        "https://ptb.de/dcc/v3.1.2/dcc.xsd",
        "https://ptb.de/si/v2.1.0/SI_Format.xsd",
    )
}
"""Where PTB publishes them (``daq dcc fetch-schema``)."""


@dataclass(frozen=True)
class Finding:
    """One thing a check found: an ``error`` makes the DCC invalid, a ``warning`` does not."""

    level: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.where}: {self.message}" if self.where else self.message


class SchemaMissing(Exception):
    """The schema folder lacks the XSD of the DCC's version."""


def safe_tree(xml: bytes) -> Any:
    """The document parsed without a DTD: a DOCTYPE (whose entities could read local files
    or expand without end in the next parser) is refused; ValueError says why."""
    from lxml import etree

    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        tree = etree.fromstring(xml, parser=parser).getroottree()
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"not well-formed XML: {exc}") from None
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise ValueError("a DCC has no DOCTYPE: one with a document type definition is refused")
    return tree.getroot()


def schema_version(xml: bytes) -> str:
    """The DCC's ``schemaVersion`` (ValueError if it is not a DCC)."""
    root = safe_tree(xml)
    if root.tag != f"{{{DCC_NAMESPACE}}}digitalCalibrationCertificate":
        raise ValueError(f"not a DCC: the root element is {root.tag}")
    version = root.get("schemaVersion")
    if not version:
        raise ValueError("the DCC has no schemaVersion")
    return str(version)


def schema_problems(xml: bytes, folder: Path) -> list[Finding]:
    """XSD errors of ``xml`` against the official schema of its version found in ``folder``;
    raises ``SchemaMissing`` when the folder does not hold it."""
    import xmlschema

    version = schema_version(xml)
    files = SCHEMA_FILES.get(version)
    if files is None:
        raise SchemaMissing(
            f"the DCC is version {version}; this daq checks versions {', '.join(SCHEMA_FILES)}"
        )
    dcc, si = (folder / name for name in files)
    missing = [str(path) for path in (dcc, si) if not path.is_file()]
    if missing:
        raise SchemaMissing(f"no {' and no '.join(missing)}: `daq dcc fetch-schema` gets them")
    schema = xmlschema.XMLSchema(str(dcc), locations={SI_NAMESPACE: str(si)}, allow="local")
    resource = xmlschema.XMLResource(xml, allow="none", defuse="always")
    return [
        Finding("error", error.path or "", _reason(error)) for error in schema.iter_errors(resource)
    ]


def _reason(error: object) -> str:
    text = str(getattr(error, "reason", None) or error)
    return re.sub(r"\s+", " ", text).strip()


def schematron_problems(xml: bytes) -> list[Finding]:
    """PTB's Schematron rules for the DCC (from ``dcclib``): failed assertions, each an error
    unless the rule calls itself a warning or information."""
    from dcclib.validation.schematron import SchematronValidator
    from lxml import etree

    # Saxon resolves entities: it only ever sees the document as lxml read it, DTD refused
    text = etree.tostring(safe_tree(xml), encoding="unicode")
    try:
        result = SchematronValidator.for_dcc().validate_str(text)
    except Exception as exc:  # Saxon's own errors: a document it cannot process
        raise ValueError(f"the Schematron check could not read it: {exc}") from None
    found = []
    for assertion in result.failed_assertions:
        role = (assertion.role or "error").lower()
        level = "warning" if role in ("warning", "warn", "info", "information") else "error"
        found.append(Finding(level, assertion.location or "", " ".join(assertion.text.split())))
    return found
