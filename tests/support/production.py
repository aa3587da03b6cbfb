"""A production-like configuration that passes every production check (portal.settings
Settings.problems): tests start from it and change one thing."""

from __future__ import annotations

PRODUCTION_ENV: dict[str, str] = {
    "PORTAL_ENV": "production",
    "PORTAL_SECRET_KEY": "a-real-production-secret-of-40-characters",
    "PORTAL_PUBLIC_URL": "https://portal.shop.example",
    "PAYMENTS_PROVIDER": "none",
    "AFTERSHIP_API_KEY": "asak_live_account_key_of_this_shop",
    "AFTERSHIP_WEBHOOK_SECRET": "aftership-webhook-secret-of-this-shop",
    "SMTP_HOST": "smtp.shop.example",
    "SMTP_PASSWORD": "smtp-password-of-this-shop",
}
