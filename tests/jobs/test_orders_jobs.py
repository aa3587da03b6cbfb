"""Photos staged for a return that was never submitted are removed after a day; photos of
submitted returns and fresh ones stay."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from portal.db import utcnow
from portal.domain import returns
from portal.jobs.orders import purge_abandoned_photos
from portal.models import ReturnPhoto
from portal.settings import get_settings
from tests.factories import make_customer, principal_for
from tests.factories_orders import PNG


def test_abandoned_staged_photos_are_purged_with_their_files(db: Session) -> None:
    # Given one photo staged two days ago and one staged just now
    user, _ = make_customer(db)
    p = principal_for(user)
    old = returns.stage_photo(db, principal=p, filename="old.png", content_type="image/png", data=PNG)
    fresh = returns.stage_photo(db, principal=p, filename="new.png", content_type="image/png", data=PNG)
    old.created_at = utcnow() - timedelta(days=2)
    db.add(old)
    db.commit()
    old_id, fresh_id = old.id, fresh.id
    old_file = get_settings().files_dir / old.storage_key
    assert old_file.is_file()

    # When the housekeeping job runs
    assert purge_abandoned_photos() == 1

    # Then the old one is gone, file and all, and the fresh one stays
    db.expire_all()
    assert db.get(ReturnPhoto, old_id) is None and not old_file.exists()
    assert db.get(ReturnPhoto, fresh_id) is not None
