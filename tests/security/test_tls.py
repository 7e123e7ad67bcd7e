"""TLS and mTLS: the principal may be identified by its client certificate."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from zonekit import TOKENS, make_zone_dir, running_zone

from zone.client import TlsOptions, UnauthenticatedError, UnavailableError, ZoneClient


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    path.with_suffix(".crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    path.with_suffix(".key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pki")
    ca_key = _key()
    ca = _cert("zone test CA", ca_key, None, ca_key, ca=True)
    _write(root / "ca", ca, ca_key)
    server_key = _key()
    _write(root / "server", _cert("localhost", server_key, ca, ca_key, server=True), server_key)
    client_key = _key()
    _write(root / "bank", _cert("bank-a.zone.example", client_key, ca, ca_key), client_key)
    rogue_key = _key()
    rogue_ca = _cert("rogue CA", rogue_key, None, rogue_key, ca=True)
    other_key = _key()
    _write(root / "rogue", _cert("bank-a.zone.example", other_key, rogue_ca, rogue_key), other_key)
    return root


def _zone_config(root: Path, pki: Path, mtls: bool) -> Path:
    tls = f"tls:\n  cert: {pki / 'server.crt'}\n  key: {pki / 'server.key'}\n"
    if mtls:
        tls += f"  client_ca: {pki / 'ca.crt'}\n"
    config = make_zone_dir(root, extra_config=tls)
    (root / "policies" / "mtls.yaml").write_text(
        "principals:\n"
        "  - id: bank-a-mtls\n"
        "    role: operator\n"
        "    organisation: Example Bank A (certificate)\n"
        "    cert_identity: bank-a.zone.example\n"
        "grants:\n"
        "  - principal: bank-a-mtls\n"
        "    products: [capital-match]\n"
        "    purpose: applicant verification\n"
    )
    return config


def _client(port: int, pki: Path, cert: str | None, token: str | None = None) -> ZoneClient:
    tls = TlsOptions(
        ca_file=pki / "ca.crt",
        cert_file=pki / f"{cert}.crt" if cert else None,
        key_file=pki / f"{cert}.key" if cert else None,
    )
    return ZoneClient(f"localhost:{port}", token=token, tls=tls, timeout=10)


def test_mtls_identifies_the_principal_by_certificate(tmp_path: Path, pki: Path) -> None:
    with running_zone(_zone_config(tmp_path / "z", pki, mtls=True)) as zone:
        with _client(zone.port, pki, "bank") as by_cert:
            assert [p.id for p in by_cert.list_products()] == ["capital-match"]
        # A bearer token, when present, identifies the caller instead of the certificate.
        with _client(zone.port, pki, "bank", token=TOKENS["bank"]) as both:
            assert len(both.list_products()) == 3
        with _client(zone.port, pki, None) as no_cert, pytest.raises(UnavailableError):
            no_cert.list_datasets()
        with _client(zone.port, pki, "rogue") as rogue, pytest.raises(UnavailableError):
            rogue.list_datasets()


def test_tls_without_client_certificate_needs_a_token(tmp_path: Path, pki: Path) -> None:
    with running_zone(_zone_config(tmp_path / "z", pki, mtls=False)) as zone:
        with _client(zone.port, pki, None) as anonymous, pytest.raises(UnauthenticatedError):
            anonymous.list_datasets()
        with _client(zone.port, pki, None, token=TOKENS["bank"]) as bank:
            assert bank.list_datasets()
        # Without a client CA, certificates are not requested, so none can identify a caller.
        for cert in ("bank", "rogue"):
            with _client(zone.port, pki, cert) as by_cert, pytest.raises(UnauthenticatedError):
                by_cert.list_datasets()
        plain = ZoneClient(f"127.0.0.1:{zone.port}", token=TOKENS["bank"], timeout=3)
        with plain, pytest.raises(UnavailableError):
            plain.list_datasets()  # plaintext to a TLS port: no connection


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from zone.cli import main

    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_commands_reach_a_tls_zone_with_ca_file(
    tmp_path: Path, pki: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # docs/DEPLOY.md's replicas serve TLS; the admin commands had no way to trust the CA.
    monkeypatch.delenv("ZONE_CA_FILE", raising=False)
    token = tmp_path / "admin.token"
    token.write_text(TOKENS["admin"])
    with running_zone(_zone_config(tmp_path / "z", pki, mtls=False)) as zone:
        target = ("--target", f"localhost:{zone.port}", "--token-file", str(token))
        code, _, err = _cli(capsys, "admin", "budgets", *target)
        assert code == 1 and "--ca-file" in err  # plaintext to a TLS port: told what to add
        code, out, err = _cli(capsys, "admin", "budgets", *target, "--ca-file", str(pki / "ca.crt"))
        assert (code, err) == (0, "") and "bank-a" in out
        monkeypatch.setenv("ZONE_CA_FILE", str(pki / "ca.crt"))
        by_address = ("--target", f"127.0.0.1:{zone.port}", "--token-file", str(token))
        assert _cli(capsys, "policy", "reload", *by_address)[0] == 0  # the cert names 127.0.0.1
        code, out, _ = _cli(capsys, "jobs", "list", *target, "--server-name", "localhost")
        assert code == 0


def test_cli_mtls_identifies_by_certificate_and_refuses_half_options(
    tmp_path: Path, pki: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ZONE_CA_FILE", raising=False)
    monkeypatch.delenv("ZONE_TOKEN", raising=False)
    with running_zone(_zone_config(tmp_path / "z", pki, mtls=True)) as zone:
        target = ("--target", f"localhost:{zone.port}", "--ca-file", str(pki / "ca.crt"))
        cert = ("--cert-file", str(pki / "bank.crt"), "--key-file", str(pki / "bank.key"))
        code, out, err = _cli(capsys, "admin", "budgets", *target, *cert)
        assert code == 1 and "PERMISSION_DENIED" in err  # identified: an operator, not an admin
        for half, message in (
            (cert[:2], "--cert-file and --key-file go together"),
            (("--ca-file", str(tmp_path / "missing.crt")), "--ca-file: no such file"),
        ):
            code, _, err = _cli(capsys, "jobs", "list", "--target", f"localhost:{zone.port}", *half)
            assert code == 1 and message in err and "Traceback" not in err
        code, _, err = _cli(capsys, "jobs", "list", *cert)
        assert code == 1 and "need --ca-file" in err
