"""Questions without a good answer: searches that found nothing, searches a ticket followed,
articles voted unhelpful; fifty phrasings of one question make one row."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session

from portal.db import utcnow
from portal.domain import content_gaps as gaps
from portal.domain import insights
from portal.domain.errors import Forbidden
from portal.models import KbFeedback, SearchQuery, TicketMessage
from portal.models.base import Role
from tests.factories import make_customer, make_staff, make_ticket, principal_for
from tests.factories_kb import make_article, make_category

# One question, asked fifty ways (some with typos), and another asked a few ways.
PROMO = [
    "promo code", "promo code not working", "promo code doesnt work", "promo code invalid", "promo code rejected",
    "promo code error", "promo code expired", "promo code wont apply", "promo code not accepted",
    "promo code checkout", "where to enter promo code", "where do i enter my promo code", "how to use promo code",
    "how do i use a promo code", "use promo code", "apply promo code", "applying a promo code",
    "enter promotion code", "promotion code", "promotion code not valid", "promotional code",
    "promotional code not working", "promocode", "promocode invalid", "promocode not working", "promo codes",
    "two promo codes", "combine promo codes", "promo code newsletter", "newsletter promo code",
    "promo code first order", "promo code for first order", "promo code discount", "promo code missing",
    "forgot promo code", "promo code after ordering", "add promo code after order", "promo code refund",
    "promo cod", "promo cod not wrking", "promo coed", "prmo code", "promo code not wroking", "promoo code",
    "promo code invlid", "promotion cdoe", "promo code exprired", "promo code checkuot", "my promo code",
    "promo code help",
]
CONFIRMATION = ["order confirmation email missing", "no order confirmation email", "confirmation email not received",
                "didnt get confirmation email"]


def _rng() -> insights.Range:
    return insights.parse_range(*insights.default_range())


def _search(db: Session, text: str, *, user_id: int | None = None, results: int = 0, minutes_ago: int = 60,
            source: str = "help_center") -> None:
    db.add(SearchQuery(user_id=user_id, query=text, normalized=text.lower(), result_count=results, source=source,
                       created_at=utcnow() - timedelta(minutes=minutes_ago)))


def test_fifty_phrasings_of_one_question_make_one_row(db: Session) -> None:
    # Given fifty phrasings of the promo-code question and four of the confirmation-email one, none answered
    users = [make_customer(db)[0] for _ in range(3)]
    for n, text in enumerate(PROMO):
        _search(db, text, user_id=users[n % 3].id, minutes_ago=200 - n)
    _search(db, "promo code", user_id=users[0].id, minutes_ago=5)  # the same words again, typed once more
    for text in CONFIRMATION:
        _search(db, text, source="ticket_form")  # anonymous
    _search(db, "returns", results=3)  # found something, no ticket: answered, not a gap
    db.commit()
    admin = principal_for(make_staff(db, role=Role.ADMIN))
    # When the admin asks for the gaps (no embedder: the word overlap alone groups them)
    report = gaps.content_gaps(db, principal=admin, rng=_rng(), embedder=None)
    # Then there are two rows: fifty-one promo searches by three people, four confirmation ones by four strangers
    assert [(r.count, r.people, r.no_result) for r in report.rows] == [(51, 3, 51), (4, 4, 4)]
    promo, confirmation = report.rows
    assert promo.question == "promo code"  # the phrasing asked most
    assert set(promo.phrasings) == set(PROMO) and promo.phrasings[0] == "promo code"
    assert set(confirmation.phrasings) == set(CONFIRMATION)
    assert not report.capped and report.scanned == 56 and not report.semantic


def test_a_search_followed_by_a_ticket_on_its_topic_counts_and_an_unrelated_ticket_does_not(db: Session) -> None:
    # Given Ann searched "damaged zip on jacket" (found an article) and opened a ticket about the zip an hour later,
    ann, ann_c = make_customer(db)
    bob, bob_c = make_customer(db)
    _search(db, "damaged zip on jacket", user_id=ann.id, results=2, minutes_ago=120)
    t = make_ticket(db, ann_c, subject="Broken zipper", created_at=utcnow() - timedelta(minutes=60))
    db.add(TicketMessage(ticket_id=t.id or 0, author_kind="customer", body="The zip on my jacket is damaged."))
    # and Bob searched "gift wrapping" (found one) and then opened a ticket about an invoice address
    _search(db, "gift wrapping", user_id=bob.id, results=1, minutes_ago=120)
    make_ticket(db, bob_c, subject="Change the address on my invoice", created_at=utcnow() - timedelta(minutes=60))
    # and Ann's earlier search two days before a ticket on its topic is too long before to count
    _search(db, "jacket zip stuck", user_id=ann.id, results=1, minutes_ago=60 * 24 * 3)
    db.commit()
    admin = principal_for(make_staff(db, role=Role.ADMIN))
    report = gaps.content_gaps(db, principal=admin, rng=_rng(), embedder=None)
    # Then only Ann's search is a gap, as "ticket after"
    assert [(r.question, r.count, r.ticket_after, r.no_result) for r in report.rows] == [
        ("damaged zip on jacket", 1, 1, 0)]


def test_articles_voted_unhelpful_are_rows_with_their_comments(db: Session) -> None:
    cat = make_category(db)
    a = make_article(db, cat, title="Washing your down jacket")
    ann, _ = make_customer(db)
    for n, (helpful, comment) in enumerate(((False, "Which temperature?"), (False, ""), (True, "great"))):
        db.add(KbFeedback(article_id=a.id or 0, user_id=ann.id if n == 0 else None, helpful=helpful,
                          voter=f"v{n}", comment=comment))
    db.commit()
    admin = principal_for(make_staff(db, role=Role.ADMIN))
    rows = gaps.content_gaps(db, principal=admin, rng=_rng(), embedder=None).rows
    assert [(r.question, r.unhelpful, r.comments, r.article_id) for r in rows] == [
        ("Washing your down jacket", 2, ["Which temperature?"], a.id)]


def test_only_admins_see_gaps_and_briefs_are_their_makers_own(db: Session) -> None:
    ann, _ = make_customer(db)
    agent = principal_for(make_staff(db))
    admin = principal_for(make_staff(db, role=Role.ADMIN))
    other_admin = principal_for(make_staff(db, role=Role.ADMIN))
    for who in (principal_for(ann), agent):
        with pytest.raises(Forbidden):
            gaps.content_gaps(db, principal=who, rng=_rng(), embedder=None)
        with pytest.raises(Forbidden):
            gaps.create_brief(db, principal=who, title="x", questions=["x"])
    key = gaps.create_brief(db, principal=admin, title="promo code", questions=["promo code", "promo cod", 3])
    db.commit()
    # The maker reads it back (positive control); another admin, a forged key or a stale brief read nothing
    found = gaps.brief(db, principal=admin, brief_id=key)
    assert found is not None and found.title == "promo code" and found.questions == ["promo code", "promo cod"]
    assert gaps.brief(db, principal=other_admin, brief_id=key) is None
    assert gaps.brief(db, principal=admin, brief_id="../../etc") is None
    assert gaps.brief(db, principal=admin, brief_id=["x"]) is None
    with pytest.raises(Forbidden):
        gaps.brief(db, principal=principal_for(ann), brief_id=key)


def test_grouping_with_the_embedder_keeps_the_two_questions_apart() -> None:
    from portal.integrations import embeddings as emb

    model = emb.load_embedder()
    if model is None:
        pytest.skip("the sentence model is not installed")
    texts = ["promo code not working", "discount code wont apply", "my voucher code is rejected", "promocode invalid",
             "return a jacket", "sending back boots for a refund", "order confirmation email missing",
             "no confirmation email after ordering"]
    groups = gaps.group_questions(texts, model)
    as_text = sorted(sorted(texts[i] for i in g) for g in groups)
    # The code questions together, the email ones together, the returns apart from both
    assert ["no confirmation email after ordering", "order confirmation email missing"] in as_text
    assert not any("return a jacket" in g and "promocode invalid" in g for g in as_text)
    assert not any("sending back boots for a refund" in g and "promocode invalid" in g for g in as_text)
    code = next(g for g in as_text if "promo code not working" in g)
    assert "promocode invalid" in code and len(code) >= 3
