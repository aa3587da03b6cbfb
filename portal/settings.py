"""One settings object, read from the environment (and an optional .env file).

Feature code imports `get_settings()`; nothing else reads os.environ.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
_DEV_SECRET = "dev-only-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # "development" for make run and tests, "production" for real deployments.
    portal_env: Literal["development", "test", "production"] = "development"
    portal_secret_key: str = _DEV_SECRET
    # Where people reach the portal; used for links in mail, never the Host header.
    portal_public_url: str = "http://localhost:3000"
    portal_data_dir: Path = ROOT / ".data"
    portal_business_name: str = "Fernhill Outfitters"
    portal_support_email: str = "support@fernhill.example"

    database_url: str = ""
    # Reflex reads REFLEX_REDIS_URL itself; we share it for live push and job locks.
    reflex_redis_url: str = ""

    session_cookie_name: str = "portal_session"
    session_idle_minutes: int = Field(default=60 * 12, ge=1)
    session_absolute_hours: int = Field(default=24 * 14, ge=1)
    login_ticket_seconds: int = Field(default=60, ge=5)

    # Outgoing mail. With no SMTP host, messages are written as .eml files under
    # PORTAL_DATA_DIR/mail (development and the demo); production sets a real server.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = True
    mail_from: str = "Fernhill Outfitters <no-reply@fernhill.example>"

    # Scheduled jobs run in every worker; a database row per tick lets exactly one run it.
    jobs_enabled: bool = True

    # Knowledge base and assistant. Semantic search runs when the `semantic` extra is installed
    # and this is on; without it search is full-text only. The assistant works offline; with
    # assistant_llm_url set it asks any OpenAI-compatible /chat/completions endpoint instead.
    kb_semantic: bool = True
    assistant_llm_url: str = ""
    assistant_llm_model: str = "gpt-4o-mini"
    assistant_llm_api_key: str = ""
    assistant_llm_timeout_seconds: float = Field(default=20.0, gt=0, le=120)

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Settings:
        # A production deployment must bring its own secret; the dev default is public.
        if self.portal_env == "production" and (
            self.portal_secret_key == _DEV_SECRET or len(self.portal_secret_key) < 32
        ):
            raise ValueError(
                "PORTAL_SECRET_KEY must be set to a random value of 32+ characters in production"
            )
        return self

    @property
    def db_url(self) -> str:
        if self.database_url:
            url = self.database_url
            # Accept the common short form and pick the installed driver.
            if url.startswith("postgres://"):
                url = "postgresql://" + url[len("postgres://") :]
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url[len("postgresql://") :]
            return url
        return f"sqlite:///{self.portal_data_dir / 'portal.db'}"

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")

    @property
    def files_dir(self) -> Path:
        """Private files (invoices, attachments, contracts): never under the public upload dir."""
        return self.portal_data_dir / "files"

    @property
    def public_url_is_https(self) -> bool:
        return self.portal_public_url.startswith("https://")


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    """Tests change the environment and call this to read it again."""
    get_settings.cache_clear()
