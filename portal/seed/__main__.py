"""`python -m portal.seed`: load the demo business and the help center into the configured database.

Demo accounts share a published password, so they are refused in production; `--kb-only` loads
just the help-center articles and is allowed everywhere.
"""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.exc import OperationalError, ProgrammingError

from portal.settings import get_settings

EXIT_REFUSED = 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m portal.seed", description=__doc__)
    parser.add_argument("--kb-only", action="store_true",
                        help="load only the help-center categories and articles (allowed in production)")
    args = parser.parse_args(argv)
    settings = get_settings()

    if not args.kb_only and settings.portal_env == "production":
        print("Refusing to load demo data: PORTAL_ENV is 'production'. The demo accounts use a published "
              "password and must never exist in a real deployment.\n"
              "To load only the help-center articles, run: python -m portal.seed --kb-only", file=sys.stderr)
        return EXIT_REFUSED

    try:
        return _load(kb_only=args.kb_only)
    except (OperationalError, ProgrammingError) as exc:
        print(f"Could not load seed data: {exc.orig or exc}\n"
              "Is the database schema up to date? Run: python -m portal.manage migrate", file=sys.stderr)
        return 1


def _load(*, kb_only: bool) -> int:
    # Imported here so the refusal above needs no database and no password hashing.
    from portal.db import session_scope

    settings = get_settings()
    if kb_only:
        from portal.seed.kb_loader import load_kb

        with session_scope() as session:
            categories, articles = load_kb(session)
        print(f"Help center loaded: {categories} categories, {articles} articles.")
        return 0

    from portal.seed.demo import DEMO_LOGINS, DEMO_PASSWORD, load_demo

    with session_scope() as session:
        summary = load_demo(session)
    if summary.already_loaded:
        print("Demo data is already loaded; nothing changed.")
    else:
        print(f"Demo data loaded for {settings.portal_business_name}:")
        print(f"  {summary.customers} customers, {summary.users} users, {summary.products} products "
              f"({summary.variants} variants)")
        print(f"  {summary.orders} orders, {summary.shipments} shipments ({summary.tracking_events} tracking events), "
              f"{summary.returns} return(s)")
        print(f"  {summary.invoices} invoices and credit notes, {summary.payments} payments, "
              f"{summary.credit_entries} store-credit entries")
        print(f"  {summary.tickets} tickets, {summary.documents} documents, {summary.notifications} notifications")
        print(f"  help center: {summary.kb_categories} categories, {summary.kb_articles} articles")
    print(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
    width = max(len(email) for email, _ in DEMO_LOGINS)
    for email, who in DEMO_LOGINS:
        print(f"  {email.ljust(width)}  {who}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
