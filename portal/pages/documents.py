"""Documents: contracts, terms, certificates and shared files; uploads the business asked for; signing."""

from __future__ import annotations

import reflex as rx

from portal.components.common import download_link, empty_note, error_callout, form, notice_callout, upload_area
from portal.i18n import N_, t
from portal.layouts.shell import shell
from portal.state.documents import UPLOAD_ID, DocRow, DocumentsState

DOC_COLORS = {"available": "green", "requested": "amber", "awaiting_signature": "orange", "signed": "blue"}


def _doc(row: DocRow) -> rx.Component:
    return rx.card(
        rx.hstack(
            rx.icon("file_text", size=22, color=rx.color("accent", 10)),
            rx.vstack(
                rx.hstack(rx.text(row.title, weight="medium"),
                          rx.badge(row.status_label, color_scheme=rx.match(row.status, *list(DOC_COLORS.items()),
                                                                           "gray"), variant="soft", radius="full"),
                          wrap="wrap", align="center"),
                rx.text(row.kind, " · ", row.date, rx.cond(row.size != "", " · " + row.size, ""), size="1",
                        color_scheme="gray"),
                rx.cond(row.description != "", rx.text(row.description, size="2")),
                rx.cond(row.signed != "", rx.text(row.signed, size="1", color_scheme="blue", data_testid="doc-signed")),
                spacing="1", align="start",
            ),
            rx.spacer(),
            rx.hstack(
                rx.cond(row.download_url != "", download_link(rx.button(rx.icon("download", size=16), t("Download"),
                                                                        variant="soft", size="2"),
                                                              row.download_url, test_id="doc-download")),
                rx.cond(row.can_sign, rx.button(rx.icon("pen_line", size=16), t("Review and sign"), size="2",
                                                on_click=DocumentsState.start_signing(row.id),
                                                data_testid="doc-sign")),
                rx.cond(row.can_upload, rx.button(rx.icon("upload", size=16), t("Upload"), size="2",
                                                  on_click=DocumentsState.start_upload(row.id),
                                                  data_testid="doc-upload")),
                wrap="wrap", spacing="2",
            ),
            align="start", width="100%", wrap="wrap",
        ),
        width="100%", data_testid="doc-row",
    )


def _sign_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(t("Sign “{title}”", title=DocumentsState.signing_title)),
            rx.vstack(
                rx.text(t("Read the document before you sign it. Your signature records your name, the time, your "
                          "network address and a fingerprint (SHA-256) of exactly this document."), size="2"),
                download_link(rx.hstack(rx.icon("file_text", size=16), rx.text(t("Download the document")),
                                        color=rx.color("accent", 11)),
                              DocumentsState.signing_url, test_id="sign-download"),
                form(
                    rx.vstack(
                        rx.input(placeholder=t("Your full name, as on your account"), name="full_name",
                                 max_length=200, aria_label=t("Your full name"), id="sign-name", width="100%"),
                        rx.checkbox(t("I have read and accept this agreement"), name="accepted", id="sign-accept"),
                        rx.cond(DocumentsState.sign_error != "", rx.text(DocumentsState.sign_error,
                                                                         color_scheme="red", size="2", role="alert")),
                        rx.hstack(rx.button(t("Cancel"), type="button", variant="soft", color_scheme="gray",
                                            on_click=DocumentsState.cancel_signing),
                                  rx.button(t("Sign"), type="submit", data_testid="sign-submit"),
                                  justify="end", width="100%"),
                        spacing="3", width="100%",
                    ),
                    on_submit=DocumentsState.sign, reset_on_submit=False, width="100%",
                ),
                spacing="3", width="100%",
            ),
        ),
        open=DocumentsState.signing_title != "",
        on_open_change=lambda _open: DocumentsState.cancel_signing(),
    )


def _upload_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(t("Upload “{title}”", title=DocumentsState.upload_title)),
            rx.vstack(
                upload_area(rx.el.label(rx.upload(
                    rx.vstack(rx.icon("upload", size=22), rx.text(t("Drop the file here or click to choose it"),
                                                                  size="2"),
                              rx.text(DocumentsState.upload_hint, size="1", color_scheme="gray"), align="center"),
                    id=UPLOAD_ID, max_files=1, multiple=False,
                    accept={"application/pdf": [".pdf"], "image/png": [".png"], "image/jpeg": [".jpg", ".jpeg"]},
                    border=f"1px dashed {rx.color('gray', 7)}", padding="1.5rem", border_radius="8px", width="100%",
                ), width="100%"), width="100%"),
                rx.foreach(rx.selected_files(UPLOAD_ID), lambda name: rx.text(name, size="2",
                                                                               data_testid="selected-file")),
                rx.cond(DocumentsState.upload_error != "", rx.text(DocumentsState.upload_error, color_scheme="red",
                                                                   size="2", role="alert")),
                rx.hstack(rx.button(t("Cancel"), variant="soft", color_scheme="gray",
                                    on_click=[DocumentsState.cancel_upload, rx.clear_selected_files(UPLOAD_ID)]),
                          rx.button(t("Upload"), data_testid="upload-submit",
                                    on_click=DocumentsState.handle_upload(rx.upload_files(upload_id=UPLOAD_ID))),
                          justify="end", width="100%"),
                spacing="3", width="100%",
            ),
        ),
        open=DocumentsState.upload_title != "",
        on_open_change=lambda _open: DocumentsState.cancel_upload(),
    )


@shell(N_("Documents"))
def documents_page() -> rx.Component:
    return rx.vstack(
        error_callout(DocumentsState.error),
        notice_callout(DocumentsState.notice),
        rx.cond(DocumentsState.docs.length() > 0, rx.vstack(rx.foreach(DocumentsState.docs, _doc), width="100%",
                                                            spacing="3"),
                empty_note(t("No documents yet."))),
        _sign_dialog(),
        _upload_dialog(),
        spacing="4", width="100%",
    )


def register(app: rx.App) -> None:
    app.add_page(documents_page, route="/documents", title=N_("Documents"), on_load=DocumentsState.load)
