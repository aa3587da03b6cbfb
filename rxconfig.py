import os

import reflex as rx
from reflex.plugins.sitemap import SitemapPlugin

from portal.settings import cors_origins, get_settings

# Several workers (Redis): a worker keeps a tab's state in memory while it holds the tab's Redis
# lock, and holds it on (a lease) until another worker asks for it (a live push sent from there)
# or the lease's time is up, instead of locking, reading and writing the tab's states in Redis at
# every event. Two workers on PostgreSQL + Redis serve about 2.5 times the page navigations
# (bench/README.md, "oplocks"). REFLEX_OPLOCK_ENABLED=false in the environment switches it off.
os.environ.setdefault("REFLEX_OPLOCK_ENABLED", "true")

config = rx.Config(
    app_name="portal",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    # Not Reflex's default ("*" with credentials, which lets any origin read what the cookie
    # opens): PORTAL_PUBLIC_URL and PORTAL_ALLOWED_ORIGINS only (outside production also loopback).
    cors_allowed_origins=cors_origins(),
    # One process keeps tab state in memory (Reflex's default "disk" also pickles every tab's
    # state to .states/ and reads it back on the event loop); several workers share it in Redis.
    state_manager_mode=(rx.constants.StateManagerMode.REDIS if os.environ.get("REFLEX_REDIS_URL")
                        else rx.constants.StateManagerMode.MEMORY),
    disable_plugins=[SitemapPlugin],
    plugins=[
        # The brand's accent colour (PORTAL_ACCENT_COLOR) is compiled into the pages: a change needs a restart.
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(accent_color=get_settings().portal_accent_color,  # type: ignore[arg-type]
                           gray_color="sage", radius="medium", appearance="inherit"),
        ),
    ],
)
