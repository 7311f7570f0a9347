"""A self-signed certificate, for the IAM server certificate local mode seeds (`l0-<prefix>-api`, the name
docs/compatibility.md#smoke-scenarios's
smoke tests give `--certificate`, after the original API's own) and for the tests' HTTPS listeners."""

from __future__ import annotations

import datetime
import functools


@functools.cache
def self_signed(common_name: str = "layer0.local") -> tuple[str, str]:
    """(certificate PEM, private key PEM), valid for a year; made once per process (RSA key generation is slow)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return (
        certificate.public_bytes(serialization.Encoding.PEM).decode(),
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        ).decode(),
    )
