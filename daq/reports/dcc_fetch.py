"""Downloading PTB's official DCC schema (and the D-SI schema it imports) into a folder, for a
machine with internet; each file is checked to be the XSD of the version asked for before it
is written."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

from daq.reports.dcc_check import SCHEMA_FILES, SCHEMA_URLS

OFFICIAL = "https://ptb.de"
MAX_SCHEMA = 5_000_000
"""Bytes: an XSD larger than this is refused."""
TIMEOUT = 30.0


class FetchError(Exception):
    """A schema could not be fetched, or what came is not the schema asked for."""


def fetch(version: str, folder: Path, source: str = OFFICIAL) -> list[Path]:
    """The XSDs of DCC ``version`` written into ``folder`` (``source`` replaces
    https://ptb.de in their addresses, for a mirror); raises ``FetchError``."""
    if version not in SCHEMA_URLS:
        raise FetchError(f"no DCC version {version!r}; known: {', '.join(SCHEMA_URLS)}")
    fetched = []
    for url, name in zip(SCHEMA_URLS[version], SCHEMA_FILES[version], strict=True):
        address = source.rstrip("/") + url.removeprefix(OFFICIAL)
        body = _download(address)
        _check(body, address, _expected_version(name))
        fetched.append((name, body))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name, body in fetched:
            path = folder / name
            path.write_bytes(body)
            written.append(path)
    except OSError as exc:
        raise FetchError(f"cannot write in {folder}: {exc.strerror or exc}") from None
    return written


def _expected_version(name: str) -> str:
    """``dcc-3.1.2.xsd`` -> 3.1.2; ``SI_Format-2.1.0.xsd`` -> 2.1.0."""
    return name.rsplit("-", 1)[1].removesuffix(".xsd")


def _download(address: str) -> bytes:
    if not address.startswith(("https://", "http://")):
        raise FetchError(f"{address}: only http(s) addresses are fetched")
    try:
        with urllib.request.urlopen(address, timeout=TIMEOUT) as reply:
            body: bytes = reply.read(MAX_SCHEMA + 1)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise FetchError(f"cannot fetch {address}: {getattr(exc, 'reason', exc)}") from None
    if len(body) > MAX_SCHEMA:
        raise FetchError(f"{address} is larger than an XSD can be: refused")
    return body


def _check(body: bytes, address: str, version: str) -> None:
    from lxml import etree

    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        root = etree.fromstring(body, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise FetchError(f"{address} is not XML: {exc}") from None
    if root.tag != "{http://www.w3.org/2001/XMLSchema}schema":
        raise FetchError(f"{address} is not an XML schema")
    if root.get("version") != version:
        raise FetchError(f"{address} is the schema of version {root.get('version')}, not {version}")
