"""A detached XML signature (XML-DSig, signxml) of a DCC, beside it as ``FILE.sig``.

DCC 3.1.2 has no place for an enveloped signature in its root element, so the DCC itself is
left as it is (it still validates against the official schema) and the signature references
it by its file name. XML-DSig needs a key signxml signs with (ECDSA or RSA) and its X.509
certificate: the lab's Ed25519 record key cannot sign XML (signxml has no EdDSA), so the lab
file names a second key for DCCs (``certificates.dcc_signing``). Verifying pins the
signature to the lab's certificate where it is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from daq.reports.dcc_check import safe_tree

DSIG = "http://www.w3.org/2000/09/xmldsig#"
MAX_PEM = 100_000
"""Bytes: a key or certificate file larger than this is not one."""


class DccSignatureError(Exception):
    """The DCC cannot be signed, or its signature does not verify; the message says why."""


@dataclass(frozen=True)
class VerifiedSignature:
    subject: str
    """Who the signing certificate names."""
    note: str = ""
    """What the check could not say (the certificate has expired since)."""


def read_private_key(path: Path) -> bytes:
    """The PEM key, refused when others may read it, as the lab's record key is."""
    from daq.signing import SigningError, read_private_file

    try:
        return read_private_file(path, "certificates.dcc_signing.key_file", MAX_PEM)
    except SigningError as exc:
        raise DccSignatureError(str(exc)) from None


def _small(path: Path) -> bytes:
    if path.stat().st_size > MAX_PEM:
        raise DccSignatureError(f"{path} is too large to be a key or certificate")
    return path.read_bytes()


def read_certificate(path: Path) -> bytes:
    try:
        return _small(path)
    except OSError as exc:
        raise DccSignatureError(f"cannot read {path}: {exc.strerror or exc}") from None


def sign_dcc(xml: bytes, name: str, key_pem: bytes, certificate_pem: bytes) -> bytes:
    """A detached XML signature of the DCC ``xml`` (the file ``name``) with the key and its
    certificate, as XML bytes."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        PublicFormat,
        load_pem_private_key,
    )
    from signxml import methods
    from signxml.algorithms import SignatureMethod
    from signxml.signer import SignatureReference, XMLSigner

    try:
        key = load_pem_private_key(key_pem, password=None)
        certificate = x509.load_pem_x509_certificate(certificate_pem)
    except (ValueError, TypeError) as exc:
        raise DccSignatureError(
            f"the DCC signing key or certificate is not usable: {exc}"
        ) from None
    spki = (Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    if key.public_key().public_bytes(*spki) != certificate.public_key().public_bytes(*spki):
        raise DccSignatureError(
            "the DCC signing key is not the key of its certificate: no one could verify it"
        )
    now = dt.datetime.now(dt.UTC)
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise DccSignatureError(
            f"the DCC signing certificate is valid from {certificate.not_valid_before_utc:%Y-%m-%d}"
            f" to {certificate.not_valid_after_utc:%Y-%m-%d}, not today: renew it"
        )
    if isinstance(key, ec.EllipticCurvePrivateKey):
        algorithm = SignatureMethod.ECDSA_SHA256
    elif isinstance(key, rsa.RSAPrivateKey):
        algorithm = SignatureMethod.RSA_SHA256
    else:
        raise DccSignatureError(
            f"a DCC is signed with an ECDSA or RSA key, not {type(key).__name__}"
        )
    root = safe_tree(xml)
    signer = XMLSigner(method=methods.detached, signature_algorithm=algorithm)
    signature = signer.sign(
        root,
        key=key,
        cert=certificate_pem.decode("ascii"),
        reference_uri=[SignatureReference(URI=name)],
    )
    return bytes(etree.tostring(signature, xml_declaration=True, encoding="UTF-8"))


def verify_dcc(
    xml: bytes, signature: bytes, name: str, certificate_pem: bytes
) -> VerifiedSignature:
    """Check the detached ``signature`` of the DCC ``xml`` (the file ``name``): the digest of
    the DCC, and the signature over it made with the key of ``certificate_pem`` (the lab's
    certificate: the one in the signature is not trusted on its own). Raises
    ``DccSignatureError`` saying what failed."""
    import binascii
    import datetime as dt

    from cryptography import x509
    from signxml.exceptions import InvalidInput, InvalidSignature
    from signxml.verifier import SignatureConfiguration, XMLVerifier

    try:
        document = safe_tree(xml)
        signed = safe_tree(signature)
    except ValueError as exc:
        raise DccSignatureError(str(exc)) from None

    references = signed.findall(f"{{{DSIG}}}SignedInfo/{{{DSIG}}}Reference")
    if [r.get("URI") for r in references] != [name]:
        raise DccSignatureError(
            f"the signature is not one of {name}: it references "
            f"{', '.join(repr(r.get('URI')) for r in references) or 'nothing'}"
        )

    def resolve(uri: str) -> etree._Element | None:
        return document if uri == name else None

    try:
        certificate = x509.load_pem_x509_certificate(certificate_pem)
    except ValueError as exc:
        raise DccSignatureError(f"the lab's DCC certificate is not usable: {exc}") from None
    note, when = "", None
    expired = certificate.not_valid_after_utc
    if dt.datetime.now(dt.UTC) > expired:  # checked as of its last valid moment, and said so
        when = expired - dt.timedelta(seconds=1)
        note = f"the lab's DCC certificate expired on {expired:%Y-%m-%d}"
    try:
        XMLVerifier().verify(
            signed,
            x509_cert=certificate_pem.decode("ascii"),
            uri_resolver=resolve,
            expect_config=SignatureConfiguration(expect_references=1, verification_time=when),
        )
    except (InvalidSignature, InvalidInput, etree.DocumentInvalid, binascii.Error) as exc:
        raise DccSignatureError(f"the signature does not verify: {exc}") from None
    return VerifiedSignature(certificate.subject.rfc4514_string(), note)
