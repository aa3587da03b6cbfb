"""Operational commands: `python -m portal.manage migrate`."""

from __future__ import annotations

import argparse
from pathlib import Path

from alembic.config import Config

from alembic import command
from portal.settings import ROOT


def alembic_config() -> Config:
    cfg = Config(str(Path(ROOT) / "alembic.ini"))
    cfg.set_main_option("script_location", str(Path(ROOT) / "alembic"))
    return cfg


def migrate() -> None:
    command.upgrade(alembic_config(), "head")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m portal.manage")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("migrate", help="upgrade the database to the newest schema")
    args = parser.parse_args()
    if args.cmd == "migrate":
        migrate()


if __name__ == "__main__":
    main()
