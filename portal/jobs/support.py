"""Support upkeep: flag and escalate tickets about to miss their SLA, turn chats nobody took
into tickets, and remove files that were uploaded but never sent."""

from __future__ import annotations

import asyncio

from portal.db import session_scope
from portal.domain import attachments, support, support_chat
from portal.jobs.scheduler import job


def sweep() -> str:
    with session_scope() as db:
        flagged = support.flag_sla_risks(db)
        chats = support_chat.expire_waiting_chats(db)
        purged = attachments.purge_stale_staged(db)
    return f"flagged={flagged} chats_to_tickets={chats} purged={purged}"


@job("support-sweep", seconds=60)
async def support_sweep() -> str:
    return await asyncio.to_thread(sweep)
