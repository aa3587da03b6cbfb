"""SSO domain rules: identities are (issuer, subject), linking is per user, nobody reaches
another person's links."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from portal.db import utcnow
from portal.domain import sso
from portal.domain.audit import NO_REQUEST
from portal.domain.errors import DomainError, ErrorCode, NotFound
from portal.models import AuditEvent, SsoIdentity
from tests.factories import make_customer, principal_for
from tests.factories_sso import link


def test_the_same_subject_on_another_issuer_is_a_different_identity(db: Session) -> None:
    # Given Alice linked to subject "42" at issuer A
    alice, _ = make_customer(db)
    link(db, alice, issuer="https://idp-a.test", subject="42")
    # When subject "42" of issuer B signs in
    with pytest.raises(DomainError) as exc:
        sso.sign_in(db, issuer="https://idp-b.test", subject="42", request=NO_REQUEST)
    # Then it is unlinked, not Alice
    assert exc.value.code == ErrorCode.AUTH_FAILED and exc.value.detail == "sso_unlinked"
    # And issuer A's "42" is Alice
    ok = sso.sign_in(db, issuer="https://idp-a.test", subject="42", request=NO_REQUEST)
    assert ok.user_id == alice.id and ok.session is not None and ok.mfa_token is None
    # And Bob can link issuer B's "42" to himself without touching Alice's link
    bob, _ = make_customer(db)
    sso.link_identity(db, principal=principal_for(bob), issuer="https://idp-b.test", subject="42", email="",
                      request=NO_REQUEST)
    db.commit()
    owners = {(i.issuer, i.user_id) for i in db.exec(select(SsoIdentity)).all()}
    assert owners == {("https://idp-a.test", alice.id), ("https://idp-b.test", bob.id)}


def test_an_inactive_user_cannot_sign_in_with_sso(db: Session) -> None:
    alice, _ = make_customer(db)
    link(db, alice, subject="s")
    alice.is_active = False
    db.add(alice)
    db.commit()
    with pytest.raises(DomainError):
        sso.sign_in(db, issuer="https://idp.test", subject="s", request=NO_REQUEST)


def test_linking_twice_is_harmless_and_audited_once(db: Session) -> None:
    alice, _ = make_customer(db)
    p = principal_for(alice)
    for _ in range(2):
        sso.link_identity(db, principal=p, issuer="https://idp.test", subject="s", email="", request=NO_REQUEST)
    db.commit()
    assert len(db.exec(select(SsoIdentity)).all()) == 1
    assert len(db.exec(select(AuditEvent).where(AuditEvent.action == "auth.sso_linked")).all()) == 1


def test_customer_b_gets_nothing_of_customer_a_links(db: Session) -> None:
    alice, _ = make_customer(db)
    bob, _ = make_customer(db)
    a_link = link(db, alice, subject="alice-sub", email="alice@idp.test")
    # Bob's list has none of Alice's links
    assert sso.identities_of(db, principal=principal_for(bob)) == []
    assert [r.email for r in sso.identities_of(db, principal=principal_for(alice))] == ["alice@idp.test"]
    # Bob removing Alice's link by its id gets "not found", and the link stays
    assert a_link.id is not None
    with pytest.raises(NotFound):
        sso.unlink_identity(db, principal=principal_for(bob), identity_id=a_link.id, request=NO_REQUEST)
    with pytest.raises(NotFound):
        sso.unlink_identity(db, principal=principal_for(bob), identity_id=a_link.id + 999, request=NO_REQUEST)
    db.rollback()
    assert db.get(SsoIdentity, a_link.id) is not None
    # Alice can remove her own, and that is audited
    sso.unlink_identity(db, principal=principal_for(alice), identity_id=a_link.id, request=NO_REQUEST)
    db.commit()
    assert db.exec(select(SsoIdentity)).all() == []
    assert len(db.exec(select(AuditEvent).where(AuditEvent.action == "auth.sso_unlinked")).all()) == 1


def test_a_flow_is_consumed_once_and_old_ones_are_purged(db: Session) -> None:
    sso.consume_flow(db, state="abc", expires_at=utcnow() - timedelta(seconds=1))
    with pytest.raises(DomainError) as exc:
        sso.consume_flow(db, state="abc", expires_at=utcnow())
    assert exc.value.code == ErrorCode.TOKEN_INVALID
    sso.consume_flow(db, state="fresh", expires_at=utcnow() + timedelta(minutes=5))
    assert sso.purge_used_flows(db) == 1
    db.commit()
    with pytest.raises(DomainError):
        sso.consume_flow(db, state="fresh", expires_at=utcnow())
