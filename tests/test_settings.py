"""Configuration fails fast: every setting is validated with a message naming its variable, and
production refuses every development secret and default. `python -m portal.manage check` prints
the effective configuration (secrets masked) and every problem, exiting non-zero on any: run here
against a production-like environment, as CI runs the suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from portal.settings import Settings
from tests.support.backend import start_backend
from tests.support.production import PRODUCTION_ENV


def production(**changes: str) -> Settings:
    """Settings from the production-like environment with `changes` (lower-case field names)."""
    values: dict[str, object] = {k.lower(): v for k, v in PRODUCTION_ENV.items()}
    values.update(changes)
    return Settings(**values)  # type: ignore[arg-type]


STRIPE = {"payments_provider": "stripe", "stripe_secret_key": "sk_live_51Real",
          "stripe_webhook_secret": "whsec_endpoint_new, whsec_endpoint_old"}


def test_the_production_like_environment_passes() -> None:
    # The positive control of every refusal below: each changes one thing of this.
    assert production().problems() == []
    assert production(**STRIPE).problems() == []  # and with Stripe's own keys


@pytest.mark.parametrize(("change", "variable"), [
    ({"portal_secret_key": "dev-only-secret-change-me"}, "PORTAL_SECRET_KEY"),
    ({"portal_secret_key": "too-short"}, "PORTAL_SECRET_KEY"),
    ({"portal_public_url": "http://portal.shop.example"}, "PORTAL_PUBLIC_URL"),
    ({"portal_public_url": "https://localhost:3000"}, "PORTAL_PUBLIC_URL"),
    ({"payments_provider": "simulator"}, "PAYMENTS_PROVIDER"),
    ({"payments_provider": "stripe"}, "STRIPE_SECRET_KEY"),
    ({"payments_provider": "stripe", "stripe_secret_key": "sk_live_51Real"}, "STRIPE_WEBHOOK_SECRET"),
    ({**STRIPE, "stripe_api_base": "https://portal.shop.example/_simulator/stripe"}, "STRIPE_API_BASE"),
    ({"aftership_api_key": "dev-aftership-api-key"}, "AFTERSHIP_API_KEY"),
    ({"aftership_webhook_secret": "dev-aftership-webhook-secret"}, "AFTERSHIP_WEBHOOK_SECRET"),
    ({"smtp_host": ""}, "SMTP_HOST"),
])
def test_production_refuses_each_development_default(change: dict[str, str], variable: str) -> None:
    with pytest.raises(ValidationError, match=variable):
        production(**change)


def test_http_is_allowed_only_when_said_so_for_a_private_network() -> None:
    assert production(portal_public_url="http://portal.internal.lan", portal_allow_http="true").problems() == []


def test_portal_env_must_be_explicit_on_a_real_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PORTAL_ENV")  # the test run sets it
    with pytest.raises(ValidationError, match="PORTAL_ENV"):
        Settings(portal_public_url="https://portal.shop.example")
    # Said explicitly (even development, for a private test server) it starts; the loopback default too.
    assert Settings(portal_env="development", portal_public_url="https://portal.shop.example").problems() == []
    assert Settings().problems() == []


def test_postgres_urls_use_the_installed_driver() -> None:
    s = Settings(database_url="postgres://u@h:5432/d")
    assert s.db_url == "postgresql+psycopg://u@h:5432/d"
    assert not s.is_sqlite


def manage_check(root: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "PAYMENTS_", "AFTERSHIP_", "SMTP_"))}
    return subprocess.run([sys.executable, "-m", "portal.manage", "check"], cwd=root, env={**base, **env},
                          capture_output=True, text=True, timeout=60, check=False)


def test_manage_check_passes_a_production_like_environment(engine: object, root_dir: Path) -> None:
    # The test run's database (migrated: at the head) in a production-like configuration.
    done = manage_check(root_dir, {**PRODUCTION_ENV, "PORTAL_DATA_DIR": os.environ["PORTAL_DATA_DIR"]})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PORTAL_ENV = production" in done.stdout and "no problems" in done.stdout
    for secret in ("PORTAL_SECRET_KEY", "AFTERSHIP_WEBHOOK_SECRET", "SMTP_PASSWORD"):
        assert PRODUCTION_ENV[secret] not in done.stdout  # masked ...
        assert f"{secret} = ****" in done.stdout  # ... but listed


def test_manage_check_lists_every_problem_and_fails(engine: object, root_dir: Path) -> None:
    env = {**PRODUCTION_ENV, "PORTAL_DATA_DIR": os.environ["PORTAL_DATA_DIR"], "SMTP_HOST": "",
           "PAYMENTS_PROVIDER": "simulator", "SESSION_IDLE_MINUTES": "0"}
    done = manage_check(root_dir, env)
    assert done.returncode == 1
    problems = [line for line in done.stdout.splitlines() if line.startswith("problem: ")]
    assert [p.split(":")[1].strip() for p in problems] == ["SESSION_IDLE_MINUTES", "PAYMENTS_PROVIDER", "SMTP_HOST"]
    assert "PORTAL_ENV = production" in done.stdout  # the rest is still shown


def test_a_server_with_a_development_secret_in_production_does_not_start(root_dir: Path) -> None:
    env = {**PRODUCTION_ENV, "AFTERSHIP_WEBHOOK_SECRET": "dev-aftership-webhook-secret"}
    with start_backend(root_dir, env) as backend:
        assert backend.process.wait(timeout=120) != 0  # it stops by itself
        out = backend.output()
    assert "portal: configuration refused:" in out and "AFTERSHIP_WEBHOOK_SECRET" in out
    assert "Traceback" not in out


def _imported_in(cwd: Path, code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`code` run as the server would be from `cwd` (where it looks for .env), with no PORTAL_ variable in
    its environment but `env`."""
    root = Path(__file__).resolve().parents[1]
    base = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**base, "PYTHONPATH": str(root), **env})


def test_the_settings_read_at_import_come_from_the_env_file_too(tmp_path: Path) -> None:
    # The README lets every setting go in .env: the runtime's (pools, heavy processes) are read as
    # their modules are imported, before the settings object exists, and must find it there too.
    show = "import portal.concurrency as c; print(c.HEAVY_CONCURRENCY, c.HASH_NICENESS)"
    run = _imported_in(tmp_path, show)  # control: no .env, the defaults
    assert run.returncode == 0 and run.stdout.split() == ["2", "10"], run.stderr
    (tmp_path / ".env").write_text("PORTAL_HEAVY_CONCURRENCY=3\nPORTAL_HASH_NICENESS=0\nPORTAL_HEAVY_CPUS=x\n")
    run = _imported_in(tmp_path, show)
    assert run.returncode != 0 and "PORTAL_HEAVY_CPUS: 'x' is not a CPU number" in run.stderr  # read, and checked
    mine = str(min(os.sched_getaffinity(0))) if hasattr(os, "sched_getaffinity") else ""
    run = _imported_in(tmp_path, show, PORTAL_HEAVY_CPUS=mine, PORTAL_HASH_NICENESS="5")
    assert run.returncode == 0 and run.stdout.split() == ["3", "5"], run.stderr  # the environment wins over .env
