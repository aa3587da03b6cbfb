"""The mailbox over TLS, as a hosted provider offers it: STARTTLS and implicit TLS against a Dovecot
with a certificate from a throwaway authority, which the portal trusts only when told to."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import Session

from portal.integrations.imap import ImapError
from portal.settings import reset_settings_cache
from tests.factories_mail import deliver, fetch, tickets
from tests.support.imap import Mailbox


@pytest.fixture
def tls_settings(dovecot_tls: Mailbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for key, value in {"SUPPORT_IMAP_HOST": dovecot_tls.host, "SUPPORT_IMAP_USERNAME": dovecot_tls.user,
                       "SUPPORT_IMAP_PASSWORD": dovecot_tls.password,
                       "SUPPORT_EMAIL_ADDRESS": dovecot_tls.user}.items():
        monkeypatch.setenv(key, value)
    yield monkeypatch
    monkeypatch.undo()
    reset_settings_cache()


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_the_mailbox_is_read_over_tls_with_a_verified_certificate(db: Session, dovecot_tls: Mailbox,
                                                                  tls_settings: pytest.MonkeyPatch,
                                                                  security: str) -> None:
    port = dovecot_tls.port if security == "starttls" else dovecot_tls.imaps_port
    tls_settings.setenv("SUPPORT_IMAP_SECURITY", security)
    tls_settings.setenv("SUPPORT_IMAP_PORT", str(port))
    deliver(dovecot_tls, "outlook.eml", sender=f"{security}@example.com")
    # A certificate nobody vouches for is refused, and the message stays where it is
    tls_settings.setenv("SSL_CERT_FILE", str(dovecot_tls.root / "nothing.pem"))
    reset_settings_cache()
    with pytest.raises(ImapError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        fetch()
    assert tickets(db) == [] and dovecot_tls.count("INBOX") == 1
    # Trusting the authority that signed it (as the system store trusts a provider's), it is read
    tls_settings.setenv("SSL_CERT_FILE", dovecot_tls.ca_file)
    reset_settings_cache()
    assert fetch().counts["ticket"] == 1
    assert [t.contact_email for t in tickets(db)] == [f"{security}@example.com"]
    assert dovecot_tls.count("INBOX") == 0
