"""The lab's certificates, laid out like kubeadm's `/etc/kubernetes/pki/etcd` on every node.

One CA signs everything: each node's etcd server and peer certs (SANs: localhost, 127.0.0.1, the node's own
loopback address and name), a healthcheck-client cert like kubeadm's, and the lab API server's cert.
ECDSA P-256 keys: generating them takes microseconds, so `lab up` stays fast. Private keys are written 0600.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from etcdtui.lab.layout import LabLayout

VALIDITY = datetime.timedelta(days=365)


@dataclass(frozen=True)
class CertPair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class LabPki:
    ca_cert: Path
    ca_key: Path
    apiserver: CertPair


def write_private(path: Path, data: bytes) -> None:
    """Create a file readable by its owner only (0600), even if it existed with looser permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


class _Ca:
    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "etcd-ca")])
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + VALIDITY * 10)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                    key_encipherment=True, data_encipherment=False, key_agreement=False,
                    encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.key, hashes.SHA256())
        )

    def issue(
        self, common_name: str, *, dns: list[str], ips: list[str], server: bool, client: bool, org: str | None = None
    ) -> tuple[bytes, bytes]:
        key = ec.generate_private_key(ec.SECP256R1())
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
        if org:
            attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
        usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + (
            [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
        )
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attrs))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        )
        if dns or ips:
            sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
            sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        return _cert_pem(cert), _key_pem(key)


def write_lab_pki(layout: LabLayout, node_ips: dict[str, str]) -> LabPki:
    """Create the CA, every node's etcd certs (kubeadm file names) and the API server's cert."""
    ca = _Ca()
    ca_pem, ca_key_pem = _cert_pem(ca.cert), _key_pem(ca.key)
    layout.pki.mkdir(parents=True, exist_ok=True)
    (layout.pki / "ca.crt").write_bytes(ca_pem)
    write_private(layout.pki / "ca.key", ca_key_pem)
    for node, ip in node_ips.items():
        d = layout.node_pki_dir(node)
        d.mkdir(parents=True, exist_ok=True)
        (d / "ca.crt").write_bytes(ca_pem)
        write_private(d / "ca.key", ca_key_pem)
        dns = ["localhost", node]
        ips = ["127.0.0.1", ip]
        for name, server in (("server", True), ("peer", True)):
            cert, key = ca.issue(node, dns=dns, ips=ips, server=server, client=True)
            (d / f"{name}.crt").write_bytes(cert)
            write_private(d / f"{name}.key", key)
        cert, key = ca.issue(
            "kube-etcd-healthcheck-client", dns=[], ips=[], server=False, client=True, org="system:masters"
        )
        (d / "healthcheck-client.crt").write_bytes(cert)
        write_private(d / "healthcheck-client.key", key)
    cert, key = ca.issue("kube-apiserver", dns=["localhost", "kubernetes"], ips=["127.0.0.1"], server=True, client=False)
    api = CertPair(layout.pki / "apiserver.crt", layout.pki / "apiserver.key")
    api.cert.write_bytes(cert)
    write_private(api.key, key)
    return LabPki(ca_cert=layout.pki / "ca.crt", ca_key=layout.pki / "ca.key", apiserver=api)
