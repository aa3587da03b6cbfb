"""A second brand, Kestrel Supply Co., set through the environment as a deployment sets its own:
with it, nothing of the demo's brand (Fernhill) may show anywhere.

Its logo is an SVG in a colour of its own (KESTREL_RGB), so a rendered page shows whether it is
there; Fernhill's logo tile is FERNHILL_RGB.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from PIL import Image

from portal.settings import ROOT, reset_settings_cache

KESTREL_RGB = (194, 65, 12)
FERNHILL_RGB = (61, 120, 74)

KESTREL_SVG = """<?xml version="1.0" encoding="UTF-8"?>
<!-- Kestrel Supply Co. -->
<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40" viewBox="0 0 120 40">
  <rect x="0" y="0" width="120" height="40" rx="6" fill="#c2410c"/>
  <polygon points="14,30 30,10 46,30" fill="#ffffff"/>
</svg>
"""


def kestrel_env(folder: Path) -> dict[str, str]:
    """Kestrel's settings, with its files (logo, favicon, order policy) written into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kestrel-logo.svg").write_text(KESTREL_SVG)
    Image.new("RGB", (32, 32), KESTREL_RGB).save(folder / "kestrel-icon.png")
    # The returns address is the business's too (the order policy file, which deployments bring)
    policy = (ROOT / "portal" / "order_policy.toml").read_text()
    start = policy.index("returns_address")
    end = policy.index("\n", start)
    policy = policy[:start] + ('returns_address = ["Kestrel Supply Co. Returns", "14 Harbour Road", '
                               '"Leith, Edinburgh EH6 6QN", "United Kingdom"]') + policy[end:]
    (folder / "policy.toml").write_text(policy)
    return {
        "PORTAL_BUSINESS_NAME": "Kestrel Supply Co.",
        "PORTAL_LOGO_FILE": str(folder / "kestrel-logo.svg"),
        "PORTAL_FAVICON_FILE": str(folder / "kestrel-icon.png"),
        "PORTAL_ACCENT_COLOR": "indigo",
        "PORTAL_LEGAL_NAME": "Kestrel Supply Company Ltd",
        "PORTAL_ADDRESS": "14 Harbour Road | Leith, Edinburgh EH6 6QN | United Kingdom",
        "PORTAL_VAT_NUMBER": "GB 298 4471 35",
        "PORTAL_FOOTER_TEXT": "Registered in Scotland SC774411 - kestrel.example",
        "PORTAL_SUPPORT_EMAIL": "help@kestrel.example",
        "PORTAL_SUPPORT_PHONE": "+44 131 496 0123",
        "MAIL_FROM": "orders@kestrel.example",
        "PORTAL_ORDER_PREFIX": "KS-",
        "PORTAL_BANK_IBAN": "GB33 BUKB 2020 1555 5555 55",
        "PORTAL_BANK_BIC": "BUKBGB22",
        "PORTAL_BANK_NAME": "Leith Savings Bank",
        "ORDERS_POLICY_FILE": str(folder / "policy.toml"),
    }


@contextmanager
def as_kestrel(folder: Path) -> Iterator[dict[str, str]]:
    """The portal (settings read again) runs as Kestrel Supply Co. inside, as before afterwards.
    Its own MonkeyPatch: leaving undoes only Kestrel's variables, not a fixture's (the SMTP server's)."""
    env = kestrel_env(folder)
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        reset_settings_cache()
        try:
            yield env
        finally:
            reset_settings_cache()
    reset_settings_cache()


@pytest.fixture
def kestrel(tmp_path: Path) -> Iterator[dict[str, str]]:
    """This test runs as Kestrel Supply Co."""
    with as_kestrel(tmp_path / "kestrel") as env:
        yield env


def colour_pixels(png: Path | bytes, rgb: tuple[int, int, int], *, tolerance: int = 10) -> int:
    """How many pixels of an image are `rgb` (within `tolerance` on each channel)."""
    import io

    with Image.open(io.BytesIO(png) if isinstance(png, bytes) else png) as image:
        pixels = image.convert("RGB").getdata()
        return sum(1 for p in pixels if all(abs(a - b) <= tolerance for a, b in zip(p, rgb, strict=True)))


def first_page_png(pdf: bytes, *, dpi: int = 50) -> bytes:
    """Page 1 as poppler's pdftoppm renders it (what a person sees)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "doc.pdf"
        path.write_bytes(pdf)
        subprocess.run(["pdftoppm", "-r", str(dpi), "-f", "1", "-l", "1", "-png", "-singlefile", str(path),
                        str(Path(tmp) / "page")], check=True)
        return (Path(tmp) / "page.png").read_bytes()
