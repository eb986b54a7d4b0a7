"""A throwaway C2PA signing chain made at test time (a CA and an EC P-256 signer under it): the
tests sign Content Credentials with it and trust its CA when they read them. Never a real one."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class SigningChain:
    cert_chain: Path  # signer, then CA (PEM)
    private_key: Path  # the signer's (PEM, PKCS#8)
    ca_pem: str  # the trust anchor


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, common_name), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tryon tests")]
    )


def _usage(signer: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=not signer,
        crl_sign=not signer,
        encipher_only=False,
        decipher_only=False,
    )


def _certificate(common_name: str, key, issuer: x509.Name | None) -> x509.CertificateBuilder:
    """A month's certificate of ``key`` named ``common_name``, issued by ``issuer`` (itself when
    None): a CA when self-issued, else a signer (digital signatures only)."""
    now = datetime.datetime.now(datetime.UTC)
    signer = issuer is not None
    return (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer if signer else _name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=not signer, path_length=None), critical=True)
        .add_extension(_usage(signer=signer), critical=True)
    )


def make_signing_chain(folder: Path) -> SigningChain:
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("tryon test CA", ca_key, None).sign(ca_key, hashes.SHA256())
    signer = (
        _certificate("tryon test signer", key, ca.subject)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    chain, private = folder / "chain.pem", folder / "signer.key"
    chain.write_bytes(signer.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return SigningChain(chain, private, ca.public_bytes(serialization.Encoding.PEM).decode())
