"""Ed25519 signatures of the lab's records: each run's final record hash and each issued
certificate are signed with the lab's private key, so that no one without that key can alter
a record (or rebuild its hash chain) and still have it verify.

The private key lives in a file readable only by the service user (mode 600) or in an
environment variable, never in the lab file or the journal. The lab file keeps a register of
public keys with their validity, so signatures made before a key was rotated keep verifying
and those of a revoked key are flagged.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:  # cryptography loads when a key is used, not to read a lab file
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

SIGNING_ENV = "DAQ_SIGNING_KEY"
PUBLIC_PREFIX = "ed25519:"
MAX_KEY_BYTES = 16 * 1024
"""A private key file or variable larger than this is not a key (PEM Ed25519 is ~120 bytes)."""
KEY_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class SigningError(Exception):
    """The lab's private key cannot be used (missing, readable by others, not registered,
    revoked or out of its validity); the message says what to do."""


def _utc(value: Any, end_of_day: bool) -> Any:
    """A date in the register means the start of that day (UTC), or for ``valid_to`` its end;
    a time without a zone is UTC."""
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value.strip())
        except ValueError:
            try:
                value = dt.datetime.fromisoformat(value.strip())
            except ValueError:
                return value  # pydantic names the field and what is wrong
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        day = value + dt.timedelta(days=1) if end_of_day else value
        return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return value


def public_key_text(key: Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return PUBLIC_PREFIX + base64.b64encode(raw).decode()


def _public_key(text: str) -> Ed25519PublicKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if not text.startswith(PUBLIC_PREFIX):
        raise ValueError(
            f"a public key is written {PUBLIC_PREFIX}BASE64 (as `daq keys new` prints)"
        )
    try:
        raw = base64.b64decode(text.removeprefix(PUBLIC_PREFIX), validate=True)
    except binascii.Error:
        raise ValueError("the public key is not valid base64") from None
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 public key has 32 bytes, this one {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


class RegisteredKey(BaseModel):
    """One entry of the lab's key register."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=KEY_ID_PATTERN)
    public_key: str
    """``ed25519:`` and the base64 of the 32-byte public key."""
    valid_from: dt.datetime
    """Signatures made before this are not this key's (a date: from the start of that day,
    UTC)."""
    valid_to: dt.datetime | None = None
    """Set when the key is rotated: signatures made after it are refused, older ones keep
    verifying (a date: through the end of that day, UTC)."""
    revoked: bool = False
    """The key is compromised: every signature it made is flagged."""

    @field_validator("valid_from", mode="before")
    @classmethod
    def _from(cls, value: Any) -> Any:
        return _utc(value, end_of_day=False)

    @field_validator("valid_to", mode="before")
    @classmethod
    def _to(cls, value: Any) -> Any:
        return _utc(value, end_of_day=True)

    @field_validator("public_key")
    @classmethod
    def _decodes(cls, value: str) -> str:
        _public_key(value)
        return value

    @model_validator(mode="after")
    def _ordered(self) -> RegisteredKey:
        if self.valid_to is not None and self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        return self

    def verifier(self) -> Ed25519PublicKey:
        return _public_key(self.public_key)

    def valid_at(self, when: float) -> bool:
        moment = _moment(when)
        if moment is None:
            return False
        return self.valid_from <= moment and (self.valid_to is None or moment < self.valid_to)

    def validity(self) -> str:
        end = self.valid_to.isoformat() if self.valid_to else "no end"
        return f"{self.valid_from.isoformat()} to {end}"


class SigningSettings(BaseModel):
    """The lab file's ``signing:`` section: where the private key is, and the key register."""

    model_config = ConfigDict(extra="forbid")

    key_file: Path | None = None
    """The private key (PEM, PKCS#8) in a file only the service user can read (mode 600);
    relative to the lab file. Without it, the key is read from ``key_env``."""
    key_env: str = SIGNING_ENV
    """Environment variable holding the private key (PEM, or its base64 body on one line)."""
    keys: list[RegisteredKey] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> SigningSettings:
        for field in ("id", "public_key"):
            values = [getattr(k, field) for k in self.keys]
            repeated = sorted({v for v in values if values.count(v) > 1})
            if repeated:
                raise ValueError(f"keys: {field} {', '.join(repeated)} appears more than once")
        return self


@dataclass(frozen=True)
class Signature:
    """A signature of ``hash`` (of the record named by ``subject``) made at ``signed``."""

    subject: str
    """``run:ID`` (its final record hash) or ``certificate:NUMBER`` (the issue's hash)."""
    hash: str
    key: str
    signed: float
    value: str
    """Base64 of the 64-byte Ed25519 signature."""


def message(subject: str, digest: str, signed: float) -> bytes:
    """What is signed: the subject and the signing time are covered, so a signature can
    neither be moved to another record nor redated."""
    return f"benchdaq signature v1\n{subject}\n{digest}\n{signed!r}".encode()


@dataclass(frozen=True)
class Signer:
    key: RegisteredKey
    private: Ed25519PrivateKey

    def sign(self, subject: str, digest: str, when: float) -> Signature:
        value = self.private.sign(message(subject, digest, when))
        return Signature(subject, digest, self.key.id, when, base64.b64encode(value).decode())


def generate() -> tuple[bytes, str]:
    """A new key pair: the private key as PEM (PKCS#8) and the public key as registered."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem, public_key_text(private.public_key())


def fingerprint(public_key: str) -> str:
    """A short id for a key nobody named."""
    return "key-" + hashlib.sha256(public_key.encode()).hexdigest()[:12]


def _parse_private(data: bytes, where: str) -> Ed25519PrivateKey:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    text = data.strip()
    try:
        if text.startswith(b"-----BEGIN"):
            key = serialization.load_pem_private_key(text, password=None)
        else:
            key = serialization.load_der_private_key(base64.b64decode(text), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm, binascii.Error) as exc:
        raise SigningError(
            f"{where} does not hold an unencrypted PEM private key ({exc}); "
            "`daq keys new --out DIR` makes one"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(
            f"{where} holds a key of another kind ({type(key).__name__}), not Ed25519"
        )
    return key


def read_private_file(path: Path, field: str, largest: int) -> bytes:
    """A private key file's bytes, refused when others may read it (mode 600, owned by the
    service user) or when it is larger than a key (``largest`` bytes); ``field`` is the lab
    file's field that names it."""
    try:
        info = path.stat()
        if stat.S_IMODE(info.st_mode) & 0o077:
            raise SigningError(
                f"the private key {path} may be read by others (mode "
                f"{stat.S_IMODE(info.st_mode):03o}): `chmod 600 {path}`, owned by the "
                "service user"
            )
        if info.st_size > largest:
            raise SigningError(f"{path} is {info.st_size} bytes: not a private key")
        return path.read_bytes()
    except OSError as exc:
        raise SigningError(
            f"cannot read the private key {path}: {exc.strerror or exc}; {field} names it"
        ) from None


def _read_private(settings: SigningSettings) -> tuple[Ed25519PrivateKey, str]:
    if settings.key_file is not None:
        path = settings.key_file
        data = read_private_file(path, "signing.key_file", MAX_KEY_BYTES)
        return _parse_private(data, str(path)), str(path)
    value = os.environ.get(settings.key_env)
    if not value:
        raise SigningError(
            f"no private key: set signing.key_file in the lab file or the environment variable "
            f"{settings.key_env}"
        )
    if len(value) > MAX_KEY_BYTES:
        raise SigningError(f"${settings.key_env} is {len(value)} characters: not a private key")
    return _parse_private(value.encode(), f"${settings.key_env}"), f"${settings.key_env}"


def load_signer(settings: SigningSettings, now: float) -> Signer:
    """The lab's signer: its private key, and the register entry that makes it valid now."""
    private, where = _read_private(settings)
    public = public_key_text(private.public_key())
    entry = next((k for k in settings.keys if k.public_key == public), None)
    if entry is None:
        raise SigningError(
            f"the key in {where} is not in the lab file's signing.keys (its public key is "
            f"{public}): add its entry, as `daq keys new` printed it"
        )
    if entry.revoked:
        raise SigningError(
            f"key {entry.id} is revoked: make a new key with `daq keys new` and register it"
        )
    if not entry.valid_at(now):
        raise SigningError(
            f"key {entry.id} is valid {entry.validity()}, not now: make a new key with "
            "`daq keys new` and register it"
        )
    return Signer(entry, private)


@dataclass(frozen=True)
class Check:
    """A signature (or its absence) judged against the register."""

    ok: bool
    text: str
    """``signed by KEY``, ``unsigned (recorded before signing)`` or what is wrong."""
    key: str | None = None


def _moment(timestamp: float) -> dt.datetime | None:
    """The time a journal states, None when it is no time at all (a forged value)."""
    try:
        return dt.datetime.fromtimestamp(timestamp, dt.UTC)
    except (OverflowError, OSError, ValueError, TypeError):
        return None


def _when(timestamp: float) -> str:
    moment = _moment(timestamp)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else f"time {timestamp!r}"


def check(keys: list[RegisteredKey], signature: Signature) -> Check:
    """Whether ``signature`` is a valid one by a registered, unrevoked key in its validity."""
    from cryptography.exceptions import InvalidSignature

    entry = next((k for k in keys if k.id == signature.key), None)
    if entry is None:
        return Check(False, f"signed by {signature.key}, a key not in the lab's register")
    try:
        entry.verifier().verify(
            base64.b64decode(signature.value, validate=True),
            message(signature.subject, signature.hash, signature.signed),
        )
    except (InvalidSignature, binascii.Error, ValueError):
        return Check(
            False,
            f"the signature by {entry.id} does not match: the record or its signature was altered",
        )
    if entry.revoked:
        return Check(False, f"signed by {entry.id}, which is REVOKED", entry.id)
    if not entry.valid_at(signature.signed):
        return Check(
            False,
            f"signed by {entry.id} on {_when(signature.signed)}, outside its validity "
            f"({entry.validity()})",
            entry.id,
        )
    return Check(True, f"signed by {entry.id}", entry.id)


def unsigned(keys: list[RegisteredKey], recorded: float, what: str) -> Check:
    """A record without a signature: fine if it was made before the lab began signing,
    otherwise its signature was removed (or its record rebuilt)."""
    if not keys:
        return Check(True, "unsigned (recorded before signing: the lab file has no signing keys)")
    first = min(keys, key=lambda k: k.valid_from)
    moment = _moment(recorded)
    if moment is not None and moment < first.valid_from:
        return Check(True, "unsigned (recorded before signing)")
    return Check(
        False,
        f"unsigned, but {what} {_when(recorded)}, after the lab began signing ({first.id} valid "
        f"from {first.valid_from.isoformat()}): its signature was removed or its record rebuilt",
    )
