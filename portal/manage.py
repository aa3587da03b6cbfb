"""Operational commands:

    python -m portal.manage migrate          create the PostgreSQL database if allowed, upgrade to the newest schema
    python -m portal.manage check            print the effective configuration (secrets masked) and every problem
    python -m portal.manage mail-fetch --once   read the support mailbox once and print what was done
    python -m portal.manage backup DEST      database and private files, with a manifest, into a new folder
    python -m portal.manage restore SRC      check a backup, then bring it into an empty installation

Each failure ends in one line on stderr saying what to do, and a non-zero exit.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from alembic import command
from portal.settings import ROOT


class ManageError(Exception):
    """A command's failure, told in one line."""


def alembic_config() -> Config:
    cfg = Config(str(Path(ROOT) / "alembic.ini"))
    cfg.set_main_option("script_location", str(Path(ROOT) / "alembic"))
    return cfg


def _first_line(exc: BaseException) -> str:
    return (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]


def ensure_database(url: str) -> bool:
    """PostgreSQL: create the database of `url` when it does not exist and the account may;
    returns whether it was created. Anything else is left as it is."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql") or not parsed.database:
        return False
    probe = create_engine(parsed, pool_pre_ping=False)
    try:
        with probe.connect():
            return False
    except OperationalError as exc:
        if "does not exist" not in str(exc):
            raise ManageError(f"cannot reach the database of DATABASE_URL: {_first_line(exc)}") from None
    finally:
        probe.dispose()
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            name = conn.dialect.identifier_preparer.quote(parsed.database)
            conn.execute(text(f"CREATE DATABASE {name}"))
    except DBAPIError as exc:
        raise ManageError(
            f'database "{parsed.database}" does not exist and this account may not create it '
            f"({_first_line(exc)}): create it (e.g. `createdb -h {parsed.host or 'localhost'} "
            f"-U postgres {parsed.database}`), then run `python -m portal.manage migrate` again") from None
    finally:
        admin.dispose()
    return True


def migrate() -> None:
    from portal.settings import get_settings

    url = get_settings().db_url
    if ensure_database(url):
        print(f'portal: created database "{make_url(url).database}"', file=sys.stderr)
    try:
        command.upgrade(alembic_config(), "head")
    except OperationalError as exc:
        raise ManageError(f"cannot migrate the database of DATABASE_URL: {_first_line(exc)}") from None


def mask(name: str, value: object) -> str:
    """A setting's value as `check` prints it: secrets masked, passwords in URLs masked."""
    from portal.settings import SECRET_WORDS

    text_ = str(value)
    if any(word in name for word in SECRET_WORDS):
        return "(not set)" if not text_ else f"**** ({len(text_)} characters)"
    if "://" in text_ and "@" in text_:
        try:
            return make_url(text_).render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001 - not a database URL: hide everything before the @
            scheme, rest = text_.split("://", 1)
            return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return text_


def check() -> list[str]:
    """Print the effective configuration and return every problem found (settings, database, schema)."""
    from pydantic import ValidationError

    from portal.settings import _COLLECTING, Settings, describe_errors

    token = _COLLECTING.set(True)
    invalid: list[str] = []
    bad: set[str] = set()
    try:
        try:
            settings = Settings()
        except ValidationError as exc:
            # Report these, then look at everything else with their defaults in their place.
            invalid = describe_errors(exc)
            bad = {str(err["loc"][0]) for err in exc.errors() if err["loc"]}
            defaults = {name: field.get_default(call_default_factory=True)
                        for name, field in Settings.model_fields.items() if name in bad}
            try:
                settings = Settings(**defaults)
            except ValidationError:
                return invalid
    finally:
        _COLLECTING.reset(token)
    print("Effective configuration (environment and .env; secrets masked):")
    for name in sorted(type(settings).model_fields):
        explicit = name in settings.model_fields_set
        origin = "  (INVALID: its default shown)" if name in bad else "" if explicit else "  (default)"
        print(f"  {name.upper()} = {mask(name, getattr(settings, name))}{origin}")
    print(f"  database in use: {mask('db_url', settings.db_url)}")
    problems = invalid + [f"{var}: {msg}" for var, msg in settings.problems()]
    problems += _database_problems(settings.db_url)
    return problems


def _database_problems(url: str) -> list[str]:
    from portal.schema import schema_problem

    engine = create_engine(url)
    try:
        problem = schema_problem(engine)
    except Exception as exc:  # noqa: BLE001 - reported as a problem, not a stack trace
        return [f"DATABASE_URL: cannot reach the database: {_first_line(exc)}"]
    finally:
        engine.dispose()
    return [f"DATABASE_URL: {problem}"] if problem else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m portal.manage")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("migrate", help="create the database if allowed, upgrade it to the newest schema")
    sub.add_parser("check", help="print the effective configuration and every problem; non-zero exit on any")
    back = sub.add_parser("backup", help="write the database and the private files, with a manifest, to DEST")
    back.add_argument("dest", type=Path)
    rest = sub.add_parser("restore", help="check a backup and bring it into an empty installation")
    rest.add_argument("src", type=Path)
    fetch = sub.add_parser("mail-fetch", help="read the support mailbox (SUPPORT_IMAP_*) and print what was done")
    fetch.add_argument("--once", action="store_true", required=True, help="one pass, then exit")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "migrate":
            migrate()
        elif args.cmd == "check":
            problems = check()
            for line in problems:
                print(f"problem: {line}")
            print(f"{len(problems)} problem(s)" if problems else "no problems")
            return 1 if problems else 0
        elif args.cmd == "mail-fetch":
            return mail_fetch_once()
        elif args.cmd in ("backup", "restore"):
            from portal import backup

            try:
                done = backup.backup(args.dest) if args.cmd == "backup" else backup.restore(args.src)
            except backup.BackupError as exc:
                raise ManageError(f"{args.cmd}: {exc}") from None
            print(f"{args.cmd}: {done.line()}")
    except ManageError as exc:
        print(f"portal: {exc}", file=sys.stderr)
        return 1
    return 0


def mail_fetch_once() -> int:
    from portal.integrations.imap import ImapError
    from portal.jobs.mail_fetch import fetch_once
    from portal.settings import get_settings

    if not get_settings().imap_enabled:
        print("mail-fetch: SUPPORT_IMAP_HOST is not set; nothing to read (see README, Support by email)")
        return 2
    try:
        report = fetch_once()
    except ImapError as exc:
        print(f"mail-fetch: {exc}")
        return 1
    for line in report.lines:
        print(line)
    print(f"mail-fetch: {report.summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
