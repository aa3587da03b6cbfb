"""The business's brand comes from the settings (issue 16, item 7): a second brand, Kestrel Supply Co.,
set through the environment, shows on invoices, statements, return labels and in email, and nothing
of the demo's brand (Fernhill) does. Each check is first seen to find Fernhill under the demo's brand,
so it can fail. Bad brand settings are refused with a message naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
import typing
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from portal.brand import ACCENT_COLORS, ICO, PNG, SVG, image_type
from portal.domain import account, billing_files, order_billing, returns
from portal.domain.audit import RequestInfo
from portal.jobs.mail import send_pending
from portal.models import InvoiceStatus, OrderLine, OrderStatus, RefundMethod
from portal.settings import ROOT, ConfigError, Settings, load_settings
from tests.factories import make_customer, principal_for
from tests.factories_billing import make_billed_invoice, make_payment
from tests.factories_orders import make_product, make_variant_order
from tests.pdf_tools import pdf_text
from tests.support.brand import FERNHILL_RGB, KESTREL_RGB, as_kestrel, colour_pixels, first_page_png, kestrel_env
from tests.support.production import PRODUCTION_ENV
from tests.support.smtp import Inbox
from tests.test_settings import manage_check

KESTREL = ("Kestrel Supply Co.", "Kestrel Supply Company Ltd", "14 Harbour Road", "GB 298 4471 35",
           "Registered in Scotland SC774411", "help@kestrel.example")
FERNHILL = ("Fernhill Outfitters", "Industrieweg 12", "NL859912345B01", "Chamber of Commerce 70123456",
            "support@fernhill.example")


# --- settings -----------------------------------------------------------------------------------------

def test_the_accent_colours_are_the_ones_reflex_themes_take() -> None:
    from reflex.components.radix.themes.base import LiteralAccentColor

    assert typing.get_args(LiteralAccentColor) == ACCENT_COLORS


def test_the_demo_brand_ships_its_files_and_they_are_what_they_claim() -> None:
    s = Settings()
    assert s.portal_logo_file == ROOT / "assets" / "brand" / "logo.svg" and image_type(s.portal_logo_file) == SVG
    assert image_type(s.portal_favicon_file) == PNG
    assert image_type(ROOT / "assets" / "favicon.ico") == ICO  # what browsers ask for by themselves
    assert image_type(ROOT / "README.md") is None


def _refusal(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as refused:
        load_settings()
    return str(refused.value)


@pytest.mark.parametrize(("variable", "value", "says"), [
    ("PORTAL_ACCENT_COLOR", "chartreuse", "is not one of Radix Themes' accent colours: tomato, red"),
    ("PORTAL_LOGO_FILE", "/nonexistent/logo.svg", "no file at '/nonexistent/logo.svg'"),
    ("PORTAL_LOGO_FILE", str(ROOT / "README.md"), "is not SVG or PNG (recognised by its content"),
    ("PORTAL_LOGO_FILE", str(ROOT / "assets" / "favicon.ico"), "is not SVG or PNG"),
    ("PORTAL_FAVICON_FILE", "/nonexistent/icon.png", "no file at"),
    ("PORTAL_FAVICON_FILE", str(ROOT / "README.md"), "is not ICO or PNG or SVG"),
    ("PORTAL_BUSINESS_DETAILS", "Fernhill B.V. | Venlo", "replaced by PORTAL_LEGAL_NAME, PORTAL_ADDRESS"),
    ("PORTAL_BUSINESS_NAME", "  ", "must not be empty"),
    ("PORTAL_ORDER_PREFIX", "FH", "is not 1 to 4 letters and a dash"),
    ("PORTAL_ORDER_PREFIX", "KSTRL-", "is not 1 to 4 letters and a dash"),
])
def test_a_bad_brand_setting_is_refused_naming_its_variable(monkeypatch: pytest.MonkeyPatch, variable: str,
                                                             value: str, says: str) -> None:
    message = _refusal(monkeypatch, **{variable: value})
    line = next(line for line in message.splitlines() if line.strip().startswith(f"{variable}:"))
    assert says in line, message
    assert line.count(variable) == 1  # said once, not "VAR: VAR: ..."


def test_a_whole_second_brand_is_accepted_and_the_content_decides_the_type(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # The positive control of the refusals above
    for name, value in kestrel_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    s = load_settings()
    assert s.portal_business_name == "Kestrel Supply Co." and s.portal_accent_color == "indigo"
    # A PNG whose name says SVG is a PNG (and accepted as a logo); a lower-case colour is taken as given
    disguised = tmp_path / "logo.svg"
    disguised.write_bytes((tmp_path / "kestrel-icon.png").read_bytes())
    monkeypatch.setenv("PORTAL_LOGO_FILE", str(disguised))
    monkeypatch.setenv("PORTAL_ACCENT_COLOR", " Indigo ")
    s = load_settings()
    assert image_type(s.portal_logo_file) == PNG and s.portal_accent_color == "indigo"


def test_manage_check_names_a_missing_logo_and_passes_the_second_brand(engine: object, root_dir: Path,
                                                                      tmp_path: Path) -> None:
    base = {**PRODUCTION_ENV, "PORTAL_DATA_DIR": os.environ["PORTAL_DATA_DIR"]}
    done = manage_check(root_dir, {**base, **kestrel_env(tmp_path)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PORTAL_BUSINESS_NAME = Kestrel Supply Co." in done.stdout
    done = manage_check(root_dir, {**base, **kestrel_env(tmp_path), "PORTAL_LOGO_FILE": str(tmp_path / "gone.svg")})
    assert done.returncode == 1
    assert f"problem: PORTAL_LOGO_FILE: no file at '{tmp_path / 'gone.svg'}'" in done.stdout, done.stdout


def test_the_compiled_theme_takes_the_accent_colour(tmp_path: Path) -> None:
    """rxconfig.py, which `reflex run` reads before it compiles the pages."""
    def theme(env: dict[str, str]) -> str:
        done = subprocess.run([sys.executable, "-c", "import rxconfig; print(rxconfig.config.plugins[0].theme)"],
                              cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=120,
                              check=True)
        return done.stdout

    assert 'accentColor:"grass"' in theme({})
    assert 'accentColor:"indigo"' in theme(kestrel_env(tmp_path))


def test_new_orders_are_numbered_with_the_brand_s_prefix(db: Session, tmp_path: Path) -> None:
    assert order_billing.new_order_number(db) == "FH-10001"  # the demo's (the positive control)
    with as_kestrel(tmp_path):
        assert order_billing.new_order_number(db) == "KS-10001"


# --- PDFs ---------------------------------------------------------------------------------------------

def _documents(db: Session) -> dict[str, bytes]:
    """An open invoice (with bank transfer details), a statement and a return label, made by the portal."""
    user, customer = make_customer(db, name="Ailsa Grant")
    p = principal_for(user)
    inv = make_billed_invoice(db, customer, lines=(("Trail jacket – M", 1, 12900),), status=InvoiceStatus.OPEN)
    paid = make_billed_invoice(db, customer, lines=(("Socks", 2, 900),), status=InvoiceStatus.PAID, days_ago=3)
    make_payment(db, customer, paid, amount_cents=1800, days_ago=2)
    variants = make_product(db, price_cents=5000)
    order = make_variant_order(db, customer, [(variants[0], 1)], status=OrderStatus.DELIVERED, delivered_days_ago=2)
    line = db.exec(select(OrderLine).where(OrderLine.order_id == order.id)).first()
    assert line is not None
    ret = returns.start_return(db, principal=p, order_id=order.id, quantities={line.id: 1}, reason="too_small",
                               note="", refund_method=RefundMethod.ORIGINAL, photo_ids=[],
                               expected_amount_cents=5000)
    db.commit()
    invoice = billing_files.invoice_pdf(db, principal=p, invoice_id=inv.id or 0).data
    assert billing_files.invoice_pdf(db, principal=p, invoice_id=inv.id or 0).data == invoice  # byte-identical
    today = date.today()
    return {
        "invoice": invoice,
        "statement": billing_files.statement_pdf(db, principal=p, date_from=today - timedelta(days=30),
                                                 date_to=today).data,
        "label": returns.return_label(db, principal=p, return_id=ret.id).path.read_bytes(),
    }


def _assert_brand(documents: dict[str, bytes], shown: tuple[str, ...], absent: str,
                  logo_rgb: tuple[int, int, int], other_rgb: tuple[int, int, int]) -> None:
    for kind, data in documents.items():
        text = pdf_text(data)
        flat = " ".join(text.split())
        for words in shown:
            assert words in flat, (kind, words, text)
        assert absent not in flat.lower(), (kind, text)
        page = first_page_png(data)
        assert colour_pixels(page, logo_rgb) > 30, kind  # the logo is drawn on the page
        assert colour_pixels(page, other_rgb) == 0, kind


def test_pdfs_carry_the_demo_brand(db: Session) -> None:
    # The positive control: the checks below find Fernhill, and its logo, when it is the brand
    _assert_brand(_documents(db), FERNHILL, "kestrel", FERNHILL_RGB, KESTREL_RGB)


def test_pdfs_under_a_second_brand_carry_it_and_nothing_of_fernhill(db: Session, tmp_path: Path) -> None:
    with as_kestrel(tmp_path):
        documents = _documents(db)
    _assert_brand(documents, KESTREL, "fernhill", KESTREL_RGB, FERNHILL_RGB)
    invoice = " ".join(pdf_text(documents["invoice"]).split())
    # The bank details on the open invoice, the account holder being the registered name
    assert "IBAN: GB33 BUKB 2020 1555 5555 55" in invoice and "Account holder: Kestrel Supply Company Ltd" in invoice
    label = " ".join(pdf_text(documents["label"]).split())
    assert "Kestrel Supply Co. Returns" in label and "Page 1 of 1" in label


def test_a_png_logo_is_embedded_as_an_image(db: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def images(data: bytes) -> list[str]:
        path = tmp_path / "doc.pdf"
        path.write_bytes(data)
        out = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, text=True, check=True).stdout
        return out.splitlines()[2:]

    with as_kestrel(tmp_path / "svg"):
        svg = _documents(db)
    assert all(images(data) == [] for data in svg.values())  # an SVG is drawn, not embedded as a bitmap
    monkeypatch.setenv("PORTAL_LOGO_FILE", str(tmp_path / "svg" / "kestrel-icon.png"))
    with as_kestrel(tmp_path / "png"):
        monkeypatch.setenv("PORTAL_LOGO_FILE", str(tmp_path / "png" / "kestrel-icon.png"))
        from portal.settings import reset_settings_cache

        reset_settings_cache()
        png = _documents(db)
    for kind, data in png.items():
        [row] = images(data)
        assert row.split()[3:5] == ["32", "32"], (kind, row)
        assert colour_pixels(first_page_png(data), KESTREL_RGB, tolerance=4) > 30, kind


# --- email --------------------------------------------------------------------------------------------

def _reset_mail(db: Session, smtp_inbox: Inbox, email: str) -> EmailMessage:
    make_customer(db, email=email)
    account.request_password_reset(db, email=email, request=RequestInfo(ip_address="192.0.2.1"))
    db.commit()
    assert send_pending() == 1
    [msg] = smtp_inbox.to(email)
    return msg


def _assert_mail(msg: EmailMessage, sender: str, shown: tuple[str, ...], absent: str) -> None:
    assert msg["From"] == sender
    body = msg.get_content().replace("\r\n", "\n")
    assert "\n-- \n" in body  # the signature, after the separator mail programs know
    for words in shown:
        assert words in body.split("\n-- \n", 1)[1], (words, body)
    assert absent not in bytes(msg).decode().lower(), bytes(msg).decode()


def test_mail_carries_the_demo_brand(db: Session, smtp_inbox: Inbox) -> None:
    # The positive control: Fernhill in the sender, the signature, and the raw message
    msg = _reset_mail(db, smtp_inbox, "ivy@example.com")
    _assert_mail(msg, "Fernhill Outfitters <no-reply@fernhill.example>",
                 ("Fernhill Outfitters", "Chamber of Commerce 70123456", "Support: support@fernhill.example"),
                 "kestrel")


def test_mail_under_a_second_brand_carries_it_and_nothing_of_fernhill(db: Session, smtp_inbox: Inbox,
                                                                       kestrel: Any) -> None:
    msg = _reset_mail(db, smtp_inbox, "ivy@example.com")
    _assert_mail(msg, "\"Kestrel Supply Co.\" <orders@kestrel.example>",
                 ("Kestrel Supply Co.", "Registered in Scotland SC774411",
                  "Support: help@kestrel.example · +44 131 496 0123"), "fernhill")
    assert msg["Subject"] == "Reset your Kestrel Supply Co. password"  # the text's own words too


# --- the images' routes -------------------------------------------------------------------------------

def test_the_brand_routes_serve_only_the_configured_files_typed_by_content(kestrel: dict[str, str]) -> None:
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from portal.api import brand

    client = TestClient(Starlette(routes=brand.routes))
    logo = client.get("/api/brand/logo")
    assert logo.status_code == 200 and logo.headers["content-type"] == "image/svg+xml"
    assert logo.content == Path(kestrel["PORTAL_LOGO_FILE"]).read_bytes()
    # Opened on its own, the SVG may run nothing; the bare address is re-checked daily, a fingerprinted one kept
    assert "sandbox" in logo.headers["content-security-policy"] and logo.headers["x-content-type-options"] == "nosniff"
    assert logo.headers["cache-control"] == "public, max-age=86400"
    assert "immutable" in client.get("/api/brand/logo?v=1").headers["cache-control"]
    icon = client.get("/api/brand/favicon")
    assert icon.headers["content-type"] == "image/png" and "content-security-policy" not in icon.headers
    # A file that went away after the start is a 404, not an error page
    Path(kestrel["PORTAL_LOGO_FILE"]).unlink()
    assert client.get("/api/brand/logo").status_code == 404
    assert client.get("/api/brand/../../etc/passwd").status_code == 404
