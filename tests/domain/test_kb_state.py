"""The published articles' state (kb._State): a search never waits for the once-a-second question
when it holds a state already; a thread asks it, and the next search has the answer. After this
process changed an article, the search asks itself, so the change shows at once."""

from __future__ import annotations

import threading
import time

from sqlalchemy import event
from sqlmodel import Session

from portal.domain import kb
from tests.factories_kb import clear_search_index, make_article, make_category


def state_questions(db: Session, fn: object) -> list[int]:
    """The threads that asked the published state while fn ran (and a moment after)."""
    threads: list[int] = []

    def listen(_c: object, _cur: object, statement: str, _p: object, _ctx: object, _many: bool) -> None:
        if "count(" in statement.lower() and "max(kbarticle.updated_at)" in statement.lower():
            threads.append(threading.get_ident())

    engine = db.get_bind().engine
    event.listen(engine, "before_cursor_execute", listen)
    try:
        fn()  # type: ignore[operator]
        deadline = time.monotonic() + 10
        while kb._state.asking and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    return threads


def age(where: tuple[object, ...], seconds: float) -> None:
    with kb._state.lock:
        asked, state = kb._state.seen[where]
        kb._state.seen[where] = (asked - seconds, state)


def test_an_old_state_is_asked_again_by_a_thread_while_the_search_goes_on(db: Session) -> None:
    clear_search_index(db)
    cat = make_category(db)
    make_article(db, cat, title="Where is my parcel")
    kb._state.wrote = -kb.STATE_RECHECK_SECONDS  # as if this process had changed nothing lately
    with kb._state.lock:
        kb._state.seen.clear()  # nothing held: the first search asks itself
    first = kb._state.current(db)
    where = (*kb._db_key(db), "")
    me = threading.get_ident()
    # Held and fresh: nobody asks
    assert state_questions(db, lambda: kb._state.current(db)) == []
    # Held but a second old: the same state at once, and a thread asks for the next one
    age(where, kb.STATE_RECHECK_SECONDS + 0.5)
    answers: list[tuple[object, ...]] = []
    asked = state_questions(db, lambda: answers.append(kb._state.current(db)))
    assert answers == [first]
    assert len(asked) == 1 and asked[0] != me
    assert time.monotonic() - kb._state.seen[where][0] < kb.STATE_RECHECK_SECONDS  # the new answer is held
    # Positive control: right after this process changed an article, the search asks itself
    # and sees the change.
    make_article(db, cat, title="Returns and refunds")
    now: list[tuple[object, ...]] = []
    asked = state_questions(db, lambda: now.append(kb._state.current(db)))
    assert asked == [me]
    assert now[0] != first and int(now[0][3]) == int(first[3]) + 1
