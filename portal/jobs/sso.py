"""Forget completed single sign-on flows once their cookies have expired anyway."""

from __future__ import annotations

import asyncio

from portal.db import session_scope
from portal.domain import sso
from portal.jobs.scheduler import job


def purge() -> int:
    with session_scope() as db:
        return sso.purge_used_flows(db)


@job("sso-purge-flows", seconds=3600)
async def purge_sso_flows() -> int:
    return await asyncio.to_thread(purge)
