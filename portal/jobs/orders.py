"""Housekeeping for order self-service: photos staged for returns that were never submitted."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from portal.db import session_scope
from portal.domain import returns
from portal.jobs.scheduler import job

STAGED_PHOTO_TTL = timedelta(days=1)


def purge_abandoned_photos() -> int:
    with session_scope() as db:
        return returns.purge_staged_photos(db, older_than=STAGED_PHOTO_TTL)


@job("purge-return-photos", seconds=3600)
async def purge_return_photos() -> int:
    return await asyncio.to_thread(purge_abandoned_photos)
