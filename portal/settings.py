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

    # Customers may create their own accounts (with email verification) when enabled.
    registration_enabled: bool = False
    # Origins allowed to open the websocket and send state-changing requests, besides
    # PORTAL_PUBLIC_URL's (comma-separated). Outside production, localhost origins are allowed.
    portal_allowed_origins: str = ""

    # Scheduled jobs run in every worker; a database row per tick lets exactly one run it.
    jobs_enabled: bool = True

    # --- Single sign-on (OpenID Connect; area: sso) ---
    # SSO is off (and its button hidden) unless a discovery URL and a client id are set.
    # Register PORTAL_PUBLIC_URL + /api/auth/sso/callback as the redirect URI at the provider.
    oidc_discovery_url: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_display_name: str = "SSO"
    oidc_scopes: str = "openid email profile"
    # How long a person may spend at the provider before the flow must start again.
    oidc_flow_seconds: int = Field(default=600, ge=60, le=3600)

    # Support (tickets, agent console, live chat). SLA targets in minutes per priority.
    support_first_response_minutes: dict[str, int] = {"urgent": 240, "high": 1440, "normal": 2880, "low": 7200}
    support_resolution_minutes: dict[str, int] = {"urgent": 1440, "high": 4320, "normal": 7200, "low": 14400}
    # A ticket is flagged and escalated when a target is this close (or already missed).
    support_sla_warning_minutes: int = Field(default=60, ge=1)
    # How long after resolution a customer may reopen a ticket.
    support_reopen_days: int = Field(default=7, ge=0)
    support_attachment_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    support_attachments_per_message: int = Field(default=5, ge=1)
    # An agent counts as available for chat when their console was open this recently.
    support_agent_available_minutes: int = Field(default=3, ge=1)
    # A chat nobody took within this time becomes a ticket.
    support_chat_wait_minutes: int = Field(default=5, ge=1)

    # Shipment tracking (AfterShip Tracking API 2026-07). Outside production, and unless turned
    # off, the portal runs the carrier simulator in-process (/_simulator/aftership) and talks to it
    # instead of the public API, so demo shipments move while a person watches.
    aftership_base_url: str = "https://api.aftership.com/tracking/2026-07"
    aftership_api_key: str = "dev-aftership-api-key"
    aftership_webhook_secret: str = "dev-aftership-webhook-secret"
    aftership_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    tracking_poll_concurrency: int = Field(default=4, ge=1, le=32)
    tracking_poll_batch: int = Field(default=200, ge=1, le=5000)
    carrier_simulator: bool = True
    # Real seconds between two checkpoints of one demo shipment.
    carrier_simulator_step_seconds: float = Field(default=45.0, ge=1)
    # Knowledge base and assistant. Semantic search runs when the `semantic` extra is installed
    # and this is on; without it search is full-text only. The assistant works offline; with
    # assistant_llm_url set it asks any OpenAI-compatible /chat/completions endpoint instead.
    kb_semantic: bool = True
    assistant_llm_url: str = ""
    assistant_llm_model: str = "gpt-4o-mini"
    assistant_llm_api_key: str = ""
    assistant_llm_timeout_seconds: float = Field(default=20.0, gt=0, le=120)

    # Orders (self-service): what customers may do and when lives in a policy file, not in code.
    orders_policy_file: Path = ROOT / "portal" / "order_policy.toml"
    orders_page_size: int = Field(default=20, ge=1, le=100)

    # Billing and documents: the business's details on invoices, the payment provider, uploads.
    # Lines under the business name on PDFs, separated by "|".
    portal_business_details: str = (
        "Fernhill Outfitters B.V. | Industrieweg 12, 5928 PH Venlo, Netherlands | VAT NL859912345B01"
    )
    # "simulator" is the card processor shipped with the project (demo and tests); its hosted page
    # is served under /_simulator outside production only.
    payments_provider: str = "simulator"
    payments_api_key: str = "sk_sim_development"
    # Shared secret of the provider's signed webhooks (HMAC-SHA256 over "timestamp.body").
    payments_webhook_secret: str = "whsec_sim_development"
    payments_webhook_tolerance_seconds: int = Field(default=300, ge=30)
    # Where the simulator delivers webhooks; empty means this portal's own backend address.
    payments_webhook_url: str = ""
    upload_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)

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
    def simulator_in_process(self) -> bool:
        """The embedded carrier simulator never runs in production."""
        return self.carrier_simulator and self.portal_env != "production"

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")

    @property
    def files_dir(self) -> Path:
        """Private files (invoices, attachments, contracts): never under the public upload dir."""
        return self.portal_data_dir / "files"

    @property
    def sso_enabled(self) -> bool:
        return bool(self.oidc_discovery_url and self.oidc_client_id)

    @property
    def sso_callback_url(self) -> str:
        return self.portal_public_url.rstrip("/") + "/api/auth/sso/callback"

    @property
    def public_url_is_https(self) -> bool:
        return self.portal_public_url.startswith("https://")


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    """Tests change the environment and call this to read it again."""
    get_settings.cache_clear()
