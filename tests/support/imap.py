"""A real IMAP server on loopback: Debian's Dovecot, configured in a temporary directory.

Nothing system-wide changes: the configuration, the user database, the mail and the log all live
under the test's own directory. Run as root, Dovecot's login processes refuse root, so they run as
its own unprivileged users (dovenull, dovecot) and the mail belongs to `dovecot`; run as anyone
else, everything runs as that user.
"""

from __future__ import annotations

import contextlib
import dataclasses
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from portal.settings import reset_settings_cache

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
CORPUS = Path(__file__).resolve().parent.parent / "mail" / "corpus"
USER = "support@fernhill.example"
PASSWORD = "imap-test-password"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclasses.dataclass
class Mailbox:
    """The test user's mailbox, reached as a mail client would reach it."""

    host: str
    port: int
    user: str
    password: str
    root: Path
    # With TLS: the implicit-TLS port and the certificate authority that signed the server's certificate.
    imaps_port: int = 0
    ca_file: str = ""

    @contextlib.contextmanager
    def client(self) -> Iterator[imaplib.IMAP4]:
        imap = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            imap.login(self.user, self.password)
            yield imap
        finally:
            with contextlib.suppress(Exception):
                imap.logout()

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        """Deliver a message the way a mail server files it: IMAP APPEND."""
        with self.client() as imap:
            typ, data = imap.append(folder, "", imaplib.Time2Internaldate(time.time()), raw)
            assert typ == "OK", data

    def deliver(self, name: str, **replace: str) -> bytes:
        """A corpus message, with `{placeholders}` filled in, appended to INBOX."""
        raw = corpus(name, **replace)
        self.append(raw)
        return raw

    def count(self, folder: str) -> int:
        with self.client() as imap:
            typ, data = imap.select(_quote(folder), readonly=True)
            if typ != "OK":
                return 0
            return int(data[0] or 0)

    def folder_subjects(self, folder: str) -> list[str]:
        import email
        import email.policy

        with self.client() as imap:
            typ, _ = imap.select(_quote(folder), readonly=True)
            if typ != "OK":
                return []
            _, data = imap.uid("SEARCH", "ALL")
            out: list[str] = []
            for uid in (data[0] or b"").split():
                _, parts = imap.uid("FETCH", uid, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
                raw = parts[0][1] if parts and isinstance(parts[0], tuple) else b""
                out.append(str(email.message_from_bytes(raw, policy=email.policy.default)["Subject"] or ""))
            return out


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def corpus(name: str, **replace: str) -> bytes:
    raw = (CORPUS / name).read_bytes()
    for key, value in replace.items():
        raw = raw.replace(b"{" + key.encode() + b"}", value.encode())
    # Files in the repository keep LF endings; mail on the wire has CRLF.
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _certificates(root: Path) -> tuple[Path, Path, Path]:
    """A throwaway certificate authority and a server certificate for 127.0.0.1 and localhost."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Portal tests IMAP CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = root / "ca.pem", root / "server.pem", root / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    paths[2].chmod(0o600)
    return paths


def _config(root: Path, port: int, imaps_port: int = 0) -> str:
    if os.geteuid() == 0:
        login_user, internal_user, mail_user = "dovenull", "dovecot", "dovecot"
    else:
        login_user = internal_user = mail_user = pwd.getpwuid(os.geteuid()).pw_name
    pw = pwd.getpwnam(mail_user)
    tls = "ssl = no"
    if imaps_port:
        _, cert, key = _certificates(root)
        tls = f"ssl = yes\nssl_cert = <{cert}\nssl_key = <{key}"
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}:{pw.pw_uid}:{pw.pw_gid}::{root}/home\n")
    return f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
{tls}
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = {min(pw.pw_uid, 100)}
mail_location = maildir:{root}/mail/%u
mail_privileged_group =
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = {root}/passwd
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""


@contextlib.contextmanager
def dovecot_server(*, tls: bool = False) -> Iterator[Mailbox]:
    if not Path(DOVECOT).exists():
        pytest.fail("Dovecot is not installed: `make pytest` installs dovecot-imapd")
    root = Path(tempfile.mkdtemp(prefix="portal-imap-"))
    # Dovecot's unprivileged processes must reach the files: every directory on the way is traversable.
    for part in [root, *root.parents]:
        with contextlib.suppress(PermissionError):
            part.chmod(part.stat().st_mode | 0o011)
    port = _free_port()
    imaps_port = _free_port() if tls else 0
    conf = root / "dovecot.conf"
    conf.write_text(_config(root, port, imaps_port))
    pw = pwd.getpwnam("dovecot") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
    for sub in ("mail", "home"):
        (root / sub).mkdir()
        os.chown(root / sub, pw.pw_uid, pw.pw_gid)
    # The auth process (running as the internal user) reads the user database.
    os.chown(root / "passwd", pw.pw_uid, pw.pw_gid)
    (root / "passwd").chmod(0o600)
    proc = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    box = Mailbox(host="127.0.0.1", port=port, user=USER, password=PASSWORD, root=root, imaps_port=imaps_port,
                  ca_file=str(root / "ca.pem") if tls else "")
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with box.client():
                    break
            except (OSError, imaplib.IMAP4.error):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
                    out = proc.stdout.read().decode() if proc.stdout and proc.poll() is not None else ""
                    pytest.fail(f"Dovecot did not start: {out}\n{log[-2000:]}")
                time.sleep(0.05)
        yield box
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Mailbox]:
    with dovecot_server() as box:
        yield box


@pytest.fixture(scope="session")
def dovecot_tls() -> Iterator[Mailbox]:
    """A second Dovecot that speaks TLS (STARTTLS on its IMAP port, implicit TLS on its IMAPS port)."""
    with dovecot_server(tls=True) as box:
        yield box


@pytest.fixture
def mailbox(dovecot: Mailbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    """An empty support mailbox, and the portal configured to read it."""
    with dovecot.client() as imap:
        _, folders = imap.list()
        for line in folders or []:
            name = line.decode().rsplit(' "/" ', 1)[-1].strip('"') if isinstance(line, bytes) else ""
            if name and name != "INBOX":
                imap.delete(_quote(name))
        _, count = imap.select("INBOX")
        if int(count[0] or 0):
            imap.store("1:*", "+FLAGS", "\\Deleted")
            imap.expunge()
    for key, value in {"SUPPORT_IMAP_HOST": dovecot.host, "SUPPORT_IMAP_PORT": str(dovecot.port),
                       "SUPPORT_IMAP_USERNAME": dovecot.user, "SUPPORT_IMAP_PASSWORD": dovecot.password,
                       "SUPPORT_IMAP_SECURITY": "none", "SUPPORT_EMAIL_ADDRESS": dovecot.user}.items():
        monkeypatch.setenv(key, value)
    reset_settings_cache()
    yield dovecot
    monkeypatch.undo()
    reset_settings_cache()
