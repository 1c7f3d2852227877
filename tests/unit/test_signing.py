"""The lab's Ed25519 signatures: made and judged against the key register (valid, another
key, altered, redated, revoked, rotated, unknown), the private key read only from a file
nobody else can read or from the environment, and the register as the lab file states it."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from daq.config import ConfigError, parse_lab
from daq.signing import (
    RegisteredKey,
    SigningError,
    SigningSettings,
    check,
    fingerprint,
    generate,
    load_signer,
    unsigned,
)
from tests.conftest import lab_text

NOW = dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC).timestamp()


def key_pair(tmp: Path, ident: str = "lab-k1", **entry: object) -> tuple[Path, RegisteredKey]:
    pem, public = generate()
    path = tmp / f"{ident}.key"
    path.write_bytes(pem)
    path.chmod(0o600)
    fields = {"id": ident, "public_key": public, "valid_from": "2026-01-01", **entry}
    return path, RegisteredKey.model_validate(fields)


def settings(
    path: Path | None, *keys: RegisteredKey, env: str = "DAQ_SIGNING_KEY"
) -> SigningSettings:
    return SigningSettings(key_file=path, key_env=env, keys=list(keys))


def test_a_signature_verifies_and_covers_subject_hash_and_time(tmp_path: Path) -> None:
    path, key = key_pair(tmp_path)
    signature = load_signer(settings(path, key), NOW).sign("run:r1", "a" * 64, NOW)
    assert (signature.key, signature.subject, signature.signed) == ("lab-k1", "run:r1", NOW)
    judged = check([key], signature)
    assert (judged.ok, judged.text, judged.key) == (True, "signed by lab-k1", "lab-k1")
    for altered in (
        dataclasses.replace(signature, hash="b" * 64),
        dataclasses.replace(signature, subject="run:r2"),
        dataclasses.replace(signature, signed=NOW - 86400),
        dataclasses.replace(signature, value="not base64!"),
    ):
        judged = check([key], altered)
        assert not judged.ok and "does not match" in judged.text


def test_another_key_revoked_unknown_and_outside_validity(tmp_path: Path) -> None:
    path, key = key_pair(tmp_path)
    signature = load_signer(settings(path, key), NOW).sign("run:r1", "a" * 64, NOW)
    _, stranger = key_pair(tmp_path / "", "other")
    impostor = key.model_copy(update={"public_key": stranger.public_key})
    assert "does not match" in check([impostor], signature).text
    revoked = check([key.model_copy(update={"revoked": True})], signature)
    assert (revoked.ok, revoked.text) == (False, "signed by lab-k1, which is REVOKED")
    assert not check([stranger], signature).ok
    assert "not in the lab's register" in check([stranger], signature).text
    early = key.model_copy(update={"valid_from": dt.datetime(2026, 6, 1, tzinfo=dt.UTC)})
    assert (
        "outside its validity (2026-06-01T00:00:00+00:00 to no end)"
        in check([early], signature).text
    )


def test_a_rotated_key_keeps_its_signatures_and_signs_no_more(tmp_path: Path) -> None:
    path, key = key_pair(tmp_path)
    signature = load_signer(settings(path, key), NOW).sign("run:r1", "a" * 64, NOW)
    retired = RegisteredKey.model_validate({**key.model_dump(), "valid_to": "2026-05-01"})
    assert retired.valid_to == dt.datetime(2026, 5, 2, tzinfo=dt.UTC)  # through that day
    assert check([retired], signature).text == "signed by lab-k1"
    later = NOW + 2 * 86400
    with pytest.raises(SigningError, match="key lab-k1 is valid 2026-01-01T00:00:00\\+00:00 to"):
        load_signer(settings(path, retired), later)
    new_path, new_key = key_pair(tmp_path, "lab-k2", valid_from="2026-05-02")
    assert load_signer(settings(new_path, retired, new_key), later).key.id == "lab-k2"


def test_unsigned_records_before_and_after_signing_began(tmp_path: Path) -> None:
    _, key = key_pair(tmp_path)
    before = dt.datetime(2025, 12, 31, 23, 59, tzinfo=dt.UTC).timestamp()
    assert unsigned([], NOW, "x").ok
    assert unsigned([key], before, "x").text == "unsigned (recorded before signing)"
    after = unsigned([key], NOW, "the run started")
    assert not after.ok
    assert after.text.startswith("unsigned, but the run started 2026-05-01 12:00:00 UTC, after")


def test_the_private_key_from_a_file_only_its_owner_reads(tmp_path: Path) -> None:
    path, key = key_pair(tmp_path)
    path.chmod(0o640)
    with pytest.raises(SigningError, match=r"may be read by others \(mode 640\): `chmod 600"):
        load_signer(settings(path, key), NOW)
    path.chmod(0o600)
    assert load_signer(settings(path, key), NOW).key.id == "lab-k1"
    with pytest.raises(SigningError, match="cannot read the private key"):
        load_signer(settings(tmp_path / "missing.key", key), NOW)
    path.write_text("not a key")
    with pytest.raises(SigningError, match="does not hold an unencrypted PEM private key"):
        load_signer(settings(path, key), NOW)
    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.write_bytes(other)
    with pytest.raises(SigningError, match=r"another kind \(ECPrivateKey\), not Ed25519"):
        load_signer(settings(path, key), NOW)


def test_the_private_key_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, key = key_pair(tmp_path)
    pem = path.read_text()
    with pytest.raises(SigningError, match=r"set signing.key_file .* or the environment variable"):
        load_signer(settings(None, key, env="LAB_KEY"), NOW)
    monkeypatch.setenv("LAB_KEY", pem)
    assert load_signer(settings(None, key, env="LAB_KEY"), NOW).key.id == "lab-k1"
    one_line = "".join(pem.splitlines()[1:-1])  # the PEM's base64 body, for a unit file
    monkeypatch.setenv("LAB_KEY", one_line)
    assert load_signer(settings(None, key, env="LAB_KEY"), NOW).key.id == "lab-k1"
    _, stranger = key_pair(tmp_path / "", "other")
    with pytest.raises(SigningError, match=r"is not in the lab file's signing.keys"):
        load_signer(settings(None, stranger, env="LAB_KEY"), NOW)
    revoked = key.model_copy(update={"revoked": True})
    with pytest.raises(SigningError, match="key lab-k1 is revoked: make a new key"):
        load_signer(settings(None, revoked, env="LAB_KEY"), NOW)


def lab_with(tmp: Path, signing: object) -> list[str]:
    raw = yaml.safe_load(lab_text(tmp))
    raw["signing"] = signing
    try:
        parse_lab(yaml.safe_dump(raw), "lab.yaml")
    except ConfigError as exc:
        return [str(p) for p in exc.problems]
    return []


def test_the_register_in_the_lab_file(tmp_path: Path) -> None:
    _, public = generate()
    entry = {"id": "lab-k1", "public_key": public, "valid_from": dt.date(2026, 1, 1)}
    assert lab_with(tmp_path, {"key_file": "k.key", "keys": [entry]}) == []
    raw = base64.b64decode(public.removeprefix("ed25519:"))
    short = "ed25519:" + base64.b64encode(raw[:31]).decode()
    problems = {
        "lab.yaml: signing.private_key: unknown field (check the spelling)": {
            "private_key": "x",
            "keys": [entry],
        },
        "a public key is written ed25519:BASE64": {"keys": [{**entry, "public_key": "abc"}]},
        "an Ed25519 public key has 32 bytes, this one 31": {
            "keys": [{**entry, "public_key": short}]
        },
        "valid_to must be after valid_from": {"keys": [{**entry, "valid_to": "2025-01-01"}]},
        "keys: id lab-k1 appears more than once": {
            "keys": [entry, {**entry, "public_key": generate()[1]}]
        },
        "signing.keys: List should have at least 1 item": {"keys": []},
    }
    for expected, signing in problems.items():
        found = lab_with(tmp_path, signing)
        assert any(expected in p for p in found), (expected, found)


def test_a_key_without_a_name_is_named_by_its_fingerprint() -> None:
    _, public = generate()
    name = fingerprint(public)
    assert name.startswith("key-") and len(name) == 16 and name == fingerprint(public)
