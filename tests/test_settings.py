from __future__ import annotations

import pytest
from pydantic import ValidationError

from portal.settings import Settings


def test_production_refuses_the_development_secret() -> None:
    with pytest.raises(ValidationError, match="PORTAL_SECRET_KEY"):
        Settings(portal_env="production")


def test_production_accepts_a_real_secret() -> None:
    s = Settings(portal_env="production", portal_secret_key="x" * 40)
    assert s.portal_env == "production"


def test_postgres_urls_use_the_installed_driver() -> None:
    s = Settings(database_url="postgres://u@h:5432/d")
    assert s.db_url == "postgresql+psycopg://u@h:5432/d"
    assert not s.is_sqlite
