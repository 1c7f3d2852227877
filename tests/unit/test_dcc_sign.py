"""A DCC's detached signature: refused at signing with a key that is not its certificate's
or a certificate not valid today; a signature of another file name refused; a signature made
while the lab's certificate was valid still verifies after it expired, and says so."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from lxml import etree

from daq.reports.dcc_sign import DccSignatureError, sign_dcc, verify_dcc

DCC = (
    b'<?xml version="1.0"?><dcc:digitalCalibrationCertificate xmlns:dcc="https://ptb.de/dcc" '
    b'schemaVersion="3.1.2"><dcc:comment>values</dcc:comment>'
    b"</dcc:digitalCalibrationCertificate>"
)


def key_and_certificate(
    valid_from: int, valid_to: int, common_name: str = "Lab DCC"
) -> tuple[ec.EllipticCurvePrivateKey, bytes, bytes]:
    """An ECDSA P-256 key (and its PEM) with a self-signed certificate valid from and to so
    many days from now."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + dt.timedelta(days=valid_from))
        .not_valid_after(now + dt.timedelta(days=valid_to))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key, pem, certificate.public_bytes(serialization.Encoding.PEM)


def test_signing_refuses_a_key_not_of_its_certificate_and_a_certificate_out_of_date() -> None:
    _, key, _ = key_and_certificate(-1, 30)
    _, _, other = key_and_certificate(-1, 30)
    with pytest.raises(DccSignatureError, match="not the key of its certificate"):
        sign_dcc(DCC, "c.xml", key, other)
    _, old_key, old = key_and_certificate(-10, -1)
    with pytest.raises(DccSignatureError, match="not today: renew it"):
        sign_dcc(DCC, "c.xml", old_key, old)


def test_a_signature_is_of_one_file_name() -> None:
    _, key, certificate = key_and_certificate(-1, 30)
    signature = sign_dcc(DCC, "c.xml", key, certificate)
    assert verify_dcc(DCC, signature, "c.xml", certificate).note == ""
    with pytest.raises(DccSignatureError, match=r"not one of d\.xml: it references 'c\.xml'"):
        verify_dcc(DCC, signature, "d.xml", certificate)


def test_after_the_certificate_expired_the_signature_still_verifies_and_says_so() -> None:
    from signxml import methods
    from signxml.algorithms import SignatureMethod
    from signxml.signer import SignatureReference, XMLSigner

    key, _, certificate = key_and_certificate(-10, -1)  # signed while it was valid
    signer = XMLSigner(method=methods.detached, signature_algorithm=SignatureMethod.ECDSA_SHA256)
    signed = signer.sign(
        etree.fromstring(DCC),
        key=key,
        cert=certificate.decode(),
        reference_uri=[SignatureReference(URI="c.xml")],
    )
    signature = etree.tostring(signed)
    verified = verify_dcc(DCC, signature, "c.xml", certificate)
    assert verified.note.startswith("the lab's DCC certificate expired on")
    with pytest.raises(DccSignatureError, match="does not verify"):
        verify_dcc(DCC.replace(b"values", b"valuez"), signature, "c.xml", certificate)
