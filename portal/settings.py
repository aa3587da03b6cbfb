"""One settings object, read from the environment (and an optional .env file).

Feature code imports `get_settings()`. The few settings read as a module is imported (the
runtime's pools and processes, made before the settings object can be) go through `early()`,
which reads the same two places; nothing else reads os.environ.
"""

from __future__ import annotations

import contextvars
import ipaddress
import os
import re
import threading
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from dotenv import dotenv_values
from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
_DEV_SECRET = "dev-only-secret-change-me"
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
# Published in this repository: they prove nothing about who signed a webhook.
DEVELOPMENT_SECRETS = frozenset({"dev-aftership-webhook-secret", "whsec_sim_development", "sk_sim_development",
                                 "sk_test_simulator_development", "whsec_simulator_development",
                                 "dev-aftership-api-key"})
# Settings whose values `manage check` masks.
SECRET_WORDS = ("secret", "password", "api_key", "token")
# While set, Settings() collects its problems (Settings.problems) instead of raising them: `manage check`.
_COLLECTING: contextvars.ContextVar[bool] = contextvars.ContextVar("collecting", default=False)


ENV_FILE = ".env"


def early(name: str, default: str) -> str:
    """A setting read as a module is imported: from the environment, else from the .env file
    Settings reads (so either place works for every setting in the README), else `default`."""
    if name in os.environ:
        return os.environ[name]
    value = dotenv_values(ENV_FILE).get(name)
    return default if value is None else value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=ENV_FILE, extra="ignore")

    # "development" for make run and tests, "production" for real deployments.
    portal_env: Literal["development", "test", "production"] = "development"
    portal_secret_key: str = _DEV_SECRET
    # Where people reach the portal; used for links in mail, never the Host header. Production
    # requires https:// unless PORTAL_ALLOW_HTTP (a private network, behind its own protection).
    portal_public_url: str = "http://localhost:3000"
    portal_allow_http: bool = False
    # /metrics (Prometheus) answers clients on this machine, and elsewhere only with
    # `Authorization: Bearer <this>`; empty: this machine only.
    portal_metrics_token: str = ""
    portal_data_dir: Path = ROOT / ".data"
    # --- Your brand (README "Your brand"): read when the portal starts; a change needs a restart. ---
    # The name in the shell, mail, PDFs and page titles.
    portal_business_name: str = "Fernhill Outfitters"
    portal_support_email: str = "support@fernhill.example"
    # Shown beside the support address (shell footer, mail signature, PDFs); empty: not shown.
    portal_support_phone: str = ""
    # The logo (SVG or PNG, recognised by its content) in the shell, on the sign-in pages and on PDFs,
    # and the browser tab's icon (ICO, PNG or SVG). Both may live anywhere the portal can read:
    # the backend serves them at /api/brand/logo and /api/brand/favicon.
    portal_logo_file: Path = ROOT / "assets" / "brand" / "logo.svg"
    portal_favicon_file: Path = ROOT / "assets" / "brand" / "favicon.png"
    # One of Radix Themes' accent colours (brand.ACCENT_COLORS): buttons, links, the active menu entry.
    portal_accent_color: str = "grass"
    # Legal details on invoices, receipts, statements and labels: the registered name, the postal
    # address (lines separated by "|") and the VAT number; empty ones are left out.
    portal_legal_name: str = "Fernhill Outfitters B.V."
    portal_address: str = "Industrieweg 12 | 5928 PH Venlo | Netherlands"
    portal_vat_number: str = "NL859912345B01"
    # One line at the foot of the shell, every email and every PDF page (registration, legal notice).
    portal_footer_text: str = "Fernhill Outfitters B.V. · Chamber of Commerce 70123456 · Venlo, Netherlands"
    # New orders are numbered with this prefix ("FH-12609"); orders keep the number they were given.
    portal_order_prefix: str = "FH-"

    # Logs: JSON lines in production, readable lines in development ("auto"); or say which.
    portal_log_format: Literal["auto", "json", "text"] = "auto"
    portal_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "debug", "info", "warning", "error"] = "INFO"

    database_url: str = ""
    # Reflex reads REFLEX_REDIS_URL itself; we share it for live push and job locks.
    reflex_redis_url: str = ""

    session_cookie_name: str = "portal_session"
    session_idle_minutes: int = Field(default=60 * 12, ge=1)
    session_absolute_hours: int = Field(default=24 * 14, ge=1)
    login_ticket_seconds: int = Field(default=60, ge=5)
    # A tab nobody is signed in to (/login, /help, /register) keeps its Reflex state this long after
    # its last event, in memory or Redis, and never on disk; signed-in tabs keep Reflex's own expiry
    # (redis_token_expiration, an hour). More than the five minutes the second sign-in factor may take.
    # 0: strangers' tabs expire like everyone's (portal.state.tab_states).
    portal_stranger_state_seconds: int = Field(default=600, ge=0, le=24 * 3600)
    # A signed-in tab whose socket closed (the tab or the browser was closed, or the network went)
    # keeps its Reflex state this long, for a reload or a reconnect to find it as it was; then it
    # is freed (one process; with Redis the keys keep Reflex's TTL). 0: Reflex's hour.
    portal_closed_tab_state_seconds: int = Field(default=600, ge=0, le=24 * 3600)
    # glibc's malloc arenas per process (its default is eight per core): each thread of the worker
    # pool that runs state handlers would otherwise allocate tabs' states in an arena of its own,
    # whose freed pages stay apart from the others'. 0 leaves glibc's default (bench/README.md).
    portal_malloc_arenas: int = Field(default=2, ge=0, le=64)
    # Once warm, each worker freezes the objects it started with out of the garbage collector's full
    # passes (portal.memory.freeze_startup_objects). False leaves them in.
    portal_gc_freeze: bool = True
    # Kept page answers (portal.live.views) nobody read for this long are dropped.
    portal_view_idle_seconds: float = Field(default=60, ge=1, le=3600)

    # Outgoing mail. With no SMTP host, messages are written as .eml files under
    # PORTAL_DATA_DIR/mail (development and the demo); production sets a real server.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = True
    # The sender's address; without a display name ("Name <address>") the business name is shown.
    mail_from: str = "no-reply@fernhill.example"

    # Customers may create their own accounts (with email verification) when enabled.
    registration_enabled: bool = False
    # Origins allowed to open the websocket and send state-changing requests, besides
    # PORTAL_PUBLIC_URL's (comma-separated). Outside production, localhost origins are allowed.
    portal_allowed_origins: str = ""
    # Reverse proxies in front of the portal (comma-separated addresses or networks, e.g. the
    # nginx of `make scale-out`: 127.0.0.1). X-Forwarded-For is believed only on a connection from
    # one of them, and only as far as the chain runs through them; empty: never (direct clients).
    portal_trusted_proxies: str = ""

    # Scheduled jobs run in every worker; a database row per tick lets exactly one run it, and a
    # lease per job (renewed while it runs) keeps a long run from overlapping the next one.
    jobs_enabled: bool = True
    # A lease not renewed for this long belongs to a worker that died: its run is marked interrupted.
    jobs_lease_seconds: int = Field(default=60, ge=2, le=3600)
    # On shutdown, running jobs get this long to finish; then they are stopped and marked interrupted.
    jobs_shutdown_grace_seconds: float = Field(default=10.0, ge=0, le=300)
    # The housekeeping job: job history older than JOBS_KEEP_DAYS and sign-in/rate-limit counters
    # past their window are deleted every JOBS_PRUNE_SECONDS.
    jobs_prune_seconds: int = Field(default=6 * 3600, ge=1)
    jobs_keep_days: int = Field(default=7, ge=1)

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

    # Support by email: the support mailbox read over IMAP (any provider). Without a host the
    # fetch job is off. SUPPORT_IMAP_SECURITY is "ssl" (port 993), "starttls" (143) or "none",
    # which is accepted for a loopback server only (tests, a local relay).
    support_imap_host: str = ""
    support_imap_port: int = Field(default=0, ge=0, le=65535)
    support_imap_username: str = ""
    support_imap_password: str = ""
    support_imap_security: str = "ssl"
    support_imap_folder: str = "INBOX"
    support_imap_processed_folder: str = "Processed"
    support_imap_failed_folder: str = "Failed"
    support_imap_timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    # The address customers write to; replies carry it plus-addressed (support+TOKEN@...).
    # Empty: PORTAL_SUPPORT_EMAIL.
    support_email_address: str = ""
    # Whether mail from addresses no customer account knows opens a ticket (as a guest contact).
    support_email_accept_strangers: bool = True
    support_email_max_bytes: int = Field(default=25 * 1024 * 1024, ge=10_000)
    # Messages one sender may have turned into tickets or replies per hour; more wait in the failure folder.
    support_email_per_sender_per_hour: int = Field(default=20, ge=1)
    support_imap_fetch_seconds: int = Field(default=60, ge=10)

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
    # Synonyms and query expansion the business edits (format in the file itself); read again on change.
    kb_synonyms_file: Path = ROOT / "portal" / "seed" / "kb" / "synonyms.txt"
    # Memory per worker for the searched words' full-text scores (portal/domain/kb_fulltext.py);
    # 0 keeps none (every search then asks the database one query per word).
    kb_word_scores_mb: int = Field(default=64, ge=0, le=4096)
    assistant_llm_url: str = ""
    assistant_llm_model: str = "gpt-4o-mini"
    assistant_llm_api_key: str = ""
    assistant_llm_timeout_seconds: float = Field(default=20.0, gt=0, le=120)

    # Orders (self-service): what customers may do and when lives in a policy file, not in code.
    orders_policy_file: Path = ROOT / "portal" / "order_policy.toml"
    orders_page_size: int = Field(default=20, ge=1, le=100)

    # Billing and documents: the payment provider, uploads (the business's details: "Your brand" above).
    # Replaced by PORTAL_LEGAL_NAME, PORTAL_ADDRESS and PORTAL_VAT_NUMBER: refused when still set.
    portal_business_details: str = ""
    # The account customers pay invoices into by bank transfer (shown with the invoice number as
    # the reference on order confirmations and invoices). Without an IBAN no transfer details are shown.
    # The account holder; empty: PORTAL_LEGAL_NAME (or else PORTAL_BUSINESS_NAME).
    portal_bank_account_name: str = ""
    portal_bank_iban: str = "NL91 ABNA 0417 1643 00"
    portal_bank_bic: str = "ABNANL2A"
    portal_bank_name: str = "ABN AMRO Bank"
    # "simulator" is the card processor shipped with the project (demo and tests); its hosted page
    # is served under /_simulator outside production only.
    # "none": no card payments (bank transfer only), what production needs until a real provider is added.
    payments_provider: Literal["simulator", "stripe", "none"] = "simulator"
    payments_api_key: str = "sk_sim_development"
    # Shared secret of the provider's signed webhooks (HMAC-SHA256 over "timestamp.body").
    payments_webhook_secret: str = "whsec_sim_development"
    payments_webhook_tolerance_seconds: int = Field(default=300, ge=30)
    # Where the simulator delivers webhooks; empty means this portal's own backend address.
    payments_webhook_url: str = ""
    # Stripe (PAYMENTS_PROVIDER=stripe): the secret API key (sk_live_... / sk_test_... or a restricted
    # rk_ key), the signing secret(s) of the webhook endpoint (comma-separated while rotating: an
    # event signed with any of them is accepted), and the API's address. With the public development
    # defaults below and an empty STRIPE_API_BASE the adapter talks to the bundled Stripe simulator
    # (/_simulator/stripe on this portal), outside production only.
    stripe_secret_key: str = "sk_test_simulator_development"
    stripe_webhook_secret: str = "whsec_simulator_development"
    stripe_api_base: str = ""
    stripe_timeout_seconds: float = Field(default=20.0, gt=0, le=80)
    upload_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # Outbound webhooks go to public addresses only: loopback, private, link-local and other
    # internal addresses (also names resolving to them) are refused unless this is on.
    webhooks_allow_private_targets: bool = False

    @field_validator("portal_trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: str) -> str:
        for part in (p.strip() for p in value.split(",")):
            if part:
                try:
                    ipaddress.ip_network(part, strict=False)
                except ValueError:
                    raise ValueError(f"PORTAL_TRUSTED_PROXIES: {part!r} is not an address or network") from None
        return value

    @field_validator("support_imap_security")
    @classmethod
    def _imap_security(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in ("ssl", "starttls", "none"):
            raise ValueError(f"SUPPORT_IMAP_SECURITY: {value!r} is not one of ssl, starttls, none")
        return value

    @field_validator("support_email_address", "portal_support_email")
    @classmethod
    def _support_address(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        if value and not re.fullmatch(r"[^@\s<>\"+]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", value):
            raise ValueError(f"{str(info.field_name).upper()}: {value!r} is not a plain address "
                             "like support@example.com (no display name, no '+')")
        return value

    @field_validator("portal_logo_file", "portal_favicon_file")
    @classmethod
    def _image_file(cls, value: Path, info: ValidationInfo) -> Path:
        from portal.brand import FAVICON_TYPES, LOGO_TYPES, image_type

        var = str(info.field_name).upper()
        allowed = LOGO_TYPES if info.field_name == "portal_logo_file" else FAVICON_TYPES
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = ROOT / path
        if not path.is_file():
            raise ValueError(f"{var}: no file at {str(path)!r}")
        try:
            kind = image_type(path)
        except OSError as exc:
            raise ValueError(f"{var}: {str(path)!r} cannot be read ({exc.strerror})") from None
        if kind not in allowed:
            raise ValueError(f"{var}: {str(path)!r} is not {' or '.join(allowed.values())} "
                             "(recognised by its content, not its name)")
        return path

    @field_validator("portal_accent_color")
    @classmethod
    def _accent(cls, value: str) -> str:
        from portal.brand import ACCENT_COLORS

        value = value.strip().lower()
        if value not in ACCENT_COLORS:
            raise ValueError(f"PORTAL_ACCENT_COLOR: {value!r} is not one of Radix Themes' accent colours: "
                             + ", ".join(ACCENT_COLORS))
        return value

    @field_validator("portal_business_details")
    @classmethod
    def _replaced(cls, value: str) -> str:
        if value.strip():
            raise ValueError("PORTAL_BUSINESS_DETAILS: replaced by PORTAL_LEGAL_NAME, PORTAL_ADDRESS "
                             "(lines separated by '|') and PORTAL_VAT_NUMBER: set those and remove it")
        return value

    @field_validator("portal_order_prefix")
    @classmethod
    def _order_prefix(cls, value: str) -> str:
        value = value.strip().upper()
        if not re.fullmatch(r"[A-Z]{1,4}-", value):
            raise ValueError(f"PORTAL_ORDER_PREFIX: {value!r} is not 1 to 4 letters and a dash, like FH- "
                             "(what people and the assistant recognise as an order number)")
        return value

    @field_validator("portal_business_name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("PORTAL_BUSINESS_NAME: must not be empty (it names the portal everywhere)")
        return value

    @model_validator(mode="after")
    def _imap_complete(self) -> Settings:
        if not self.support_imap_host:
            return self
        missing = [name for name, v in (("SUPPORT_IMAP_USERNAME", self.support_imap_username),
                                        ("SUPPORT_IMAP_PASSWORD", self.support_imap_password)) if not v]
        if missing:
            raise ValueError(f"SUPPORT_IMAP_HOST is set, so {' and '.join(missing)} must be set too")
        if self.support_imap_security == "none" and self.support_imap_host not in LOOPBACK_HOSTS:
            raise ValueError("SUPPORT_IMAP_SECURITY=none sends the mailbox password in clear: "
                             "it is accepted for a loopback SUPPORT_IMAP_HOST only")
        return self

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Settings:
        # A production deployment must bring its own secrets and addresses; the defaults are public.
        found = self.problems()
        if found and not _COLLECTING.get():
            raise ValueError("\n".join(f"{var}: {msg}" for var, msg in found))
        return self

    def problems(self) -> list[tuple[str, str]]:
        """(variable, what is wrong) for every setting this deployment may not run with."""
        found: list[tuple[str, str]] = []
        loopback = urlsplit(self.portal_public_url).hostname in LOOPBACK_HOSTS
        if "portal_env" not in self.model_fields_set and not loopback:
            found.append(("PORTAL_ENV", "not set, and PORTAL_PUBLIC_URL is not this machine: set PORTAL_ENV="
                                        "production (or development for a private test server)"))
        if self.portal_env != "production":
            return found
        if self.portal_secret_key == _DEV_SECRET or len(self.portal_secret_key) < 32:
            found.append(("PORTAL_SECRET_KEY", "must be set to a random value of 32+ characters in production"))
        if "portal_public_url" not in self.model_fields_set or loopback:
            found.append(("PORTAL_PUBLIC_URL", "must be the address people reach the portal at, not this machine"))
        elif not self.public_url_is_https and not self.portal_allow_http:
            found.append(("PORTAL_PUBLIC_URL", "must start with https:// in production (PORTAL_ALLOW_HTTP=true "
                                               "allows http:// on a private network only)"))
        if self.payments_provider == "simulator":
            found.append(("PAYMENTS_PROVIDER", "the bundled card simulator takes no real money; set "
                                               "PAYMENTS_PROVIDER=stripe (with your Stripe keys) or none "
                                               "(bank transfer only)"))
        if self.payments_provider == "stripe":
            if self.stripe_secret_key in DEVELOPMENT_SECRETS or not self.stripe_secret_key:
                found.append(("STRIPE_SECRET_KEY", "set your Stripe account's secret key (sk_live_...), not the "
                                                   "bundled simulator's"))
            if not self.stripe_webhook_secrets or any(s in DEVELOPMENT_SECRETS for s in self.stripe_webhook_secrets):
                found.append(("STRIPE_WEBHOOK_SECRET", "set the signing secret of your Stripe webhook endpoint "
                                                       "(whsec_...), not the bundled simulator's"))
            if "/_simulator/" in self.stripe_api_base:
                found.append(("STRIPE_API_BASE", "points at the bundled simulator; leave it empty for Stripe"))
        found += [(var, "is a public development value; set your AfterShip account's own") for var, value in
                  (("AFTERSHIP_API_KEY", self.aftership_api_key),
                   ("AFTERSHIP_WEBHOOK_SECRET", self.aftership_webhook_secret)) if value in DEVELOPMENT_SECRETS]
        if not self.smtp_host:
            found.append(("SMTP_HOST", "production sends mail (sign-in codes, password resets, notifications): "
                                       "set an SMTP server; without one mail would only be written to files"))
        return found

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
    def development_tools(self) -> bool:
        """The simulators (carrier API, card processor) and their public development secrets:
        only outside production and only when the portal's public URL is on loopback (a
        development machine). A forgotten PORTAL_ENV on a server with a real address turns them
        off too; their routes also answer only loopback clients (portal.api.app.LoopbackOnly)."""
        return self.portal_env != "production" and urlsplit(self.portal_public_url).hostname in LOOPBACK_HOSTS

    def accepts_development_secret(self, secret: str) -> bool:
        """A public development default verifies nothing unless development tools are on."""
        return self.development_tools or secret not in DEVELOPMENT_SECRETS

    @property
    def stripe_webhook_secrets(self) -> list[str]:
        """The endpoint's signing secrets; public development ones only with the development tools."""
        found = [p.strip() for p in self.stripe_webhook_secret.split(",") if p.strip()]
        return [p for p in found if self.accepts_development_secret(p)]

    @property
    def simulator_in_process(self) -> bool:
        """The embedded carrier simulator runs only with the development tools."""
        return self.carrier_simulator and self.development_tools

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")

    @property
    def imap_enabled(self) -> bool:
        return bool(self.support_imap_host)

    @property
    def imap_port(self) -> int:
        return self.support_imap_port or {"ssl": 993}.get(self.support_imap_security, 143)

    @property
    def support_address(self) -> str:
        return self.support_email_address or self.portal_support_email

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


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL, lower-cased; "" when it has none."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


def configured_origins() -> frozenset[str]:
    """PORTAL_PUBLIC_URL's origin and those in PORTAL_ALLOWED_ORIGINS."""
    s = get_settings()
    found = {origin_of(s.portal_public_url)} | {origin_of(o) for o in s.portal_allowed_origins.split(",")}
    return frozenset(found - {""})


def trusted_origin(origin: str) -> bool:
    """A configured origin; outside production also any loopback origin (the development frontend
    and the test harness serve pages from another port than the backend)."""
    origin = origin.strip().lower()
    if not origin or origin in ("null", "*"):
        return False
    if origin in configured_origins():
        return True
    return get_settings().portal_env != "production" and urlsplit(origin).hostname in LOOPBACK_HOSTS


class CorsOrigins(tuple[str, ...]):
    """rxconfig's cors_allowed_origins: the origins whose pages may read our responses with the
    person's cookie. Iterating gives the configured ones; `in` (what Starlette's CORS middleware
    asks) applies `trusted_origin`, read from the settings at the time of the request."""

    def __contains__(self, origin: object) -> bool:
        return isinstance(origin, str) and trusted_origin(origin)


def cors_origins() -> CorsOrigins:
    return CorsOrigins(sorted(configured_origins()))


class ConfigError(SystemExit):
    """The settings are not usable: one line per variable, then the command that shows them all."""


def describe_errors(exc: ValidationError) -> list[str]:
    """`VARIABLE: what is wrong` for each error pydantic found (model-level ones name theirs)."""
    lines: list[str] = []
    for err in exc.errors():
        msg = str(err["msg"]).removeprefix("Value error, ")
        var = "_".join(str(part) for part in err["loc"]).upper()
        msg = msg.removeprefix(f"{var}: ") if var else msg  # a validator's message that names it already
        lines += msg.splitlines() if not var else [f"{var}: {msg} (got {err.get('input')!r})"
                                                   if not any(w in var.lower() for w in SECRET_WORDS)
                                                   else f"{var}: {msg}"]
    return lines


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        lines = describe_errors(exc)
        raise ConfigError("portal: configuration refused:\n" + "\n".join(f"  {line}" for line in lines)
                          + "\n(`python -m portal.manage check` shows the whole configuration)") from None


_settings: Settings | None = None
_settings_lock = threading.Lock()


def get_settings() -> Settings:
    """The settings, read from the environment once. The read happens under a lock so that a
    reset (tests change the environment) can never be undone by a read that began before it."""
    global _settings
    current = _settings
    if current is not None:
        return current
    with _settings_lock:
        if _settings is None:
            _settings = load_settings()
        return _settings


def reset_settings_cache() -> None:
    """Tests change the environment and call this to read it again."""
    global _settings
    with _settings_lock:
        _settings = None
