"""A local TLS certificate for a checkpoint on a LAN (`healthcode checkpoint make-cert`).

Browsers open the camera only in a secure context: `https://` or `localhost`. A tablet that
opens the staff page at `http://192.168.1.20:8000/` gets no camera, so a checkpoint on a LAN is
served over TLS (`healthcode checkpoint serve --certfile ... --keyfile ...`). Without a site
certificate from the organisation's CA, this makes a self-signed one for the names and
addresses the devices use; each device trusts it once (verifiers/README.md says how).
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

#: Browsers refuse TLS server certificates valid for longer than 398 days.
MAX_DAYS = 397


def _subject_names(hosts: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def make_certificate(
    hosts: list[str], out_dir: Path, *, days: int = 365, now: datetime | None = None
) -> tuple[Path, Path]:
    """Write `checkpoint.crt` and `checkpoint.key` (P-256, key file mode 0600) into `out_dir`.

    `hosts` are the DNS names and IP addresses the devices use to open the page; the first
    is also the certificate's common name. Returns (certificate path, key path).
    """
    if not hosts:
        raise ValueError("name at least one host name or IP address the devices use")
    if not 0 < days <= MAX_DAYS:
        raise ValueError(f"days must be 1..{MAX_DAYS} (browsers refuse longer certificates)")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    start = (now or datetime.now(UTC)) - timedelta(minutes=5)  # a device clock a little behind
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(_subject_names(hosts)), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    cert_path = out_dir / "checkpoint.crt"
    key_path = out_dir / "checkpoint.key"
    key_path.touch(mode=0o600, exist_ok=True)
    key_path.chmod(0o600)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path
