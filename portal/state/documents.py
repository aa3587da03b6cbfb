"""The documents page: download, upload what the business asks for, sign contracts."""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from portal.db import session_scope
from portal.domain import documents
from portal.domain.events import Topic
from portal.format import day, day_time, humanize
from portal.i18n import N_, tr
from portal.live.push import listens
from portal.live.runtime import offload
from portal.settings import get_settings
from portal.state.base import FAILED, PortalState
from portal.state.guard import Access, access, request_info_of
from portal.state.session import backend_url

UPLOAD_ID = "requested-document"
KIND_LABELS = {"contract": N_("Contract"), "terms": N_("Terms"), "certificate": N_("Certificate"),
               "shared": N_("Shared with you"), "upload": N_("Your upload"), "return_label": N_("Return label")}
STATUS_LABELS = {"available": N_("Available"), "requested": N_("Upload requested"),
                 "awaiting_signature": N_("Awaiting your signature"), "signed": N_("Signed")}


@dataclasses.dataclass
class DocRow:
    id: int
    title: str
    description: str
    kind: str
    status: str
    status_label: str
    date: str
    size: str
    download_url: str
    can_sign: bool
    can_upload: bool
    signed: str


def _size(n: int) -> str:
    if n <= 0:
        return ""
    return f"{n / 1024:,.0f} KB" if n < 1024 * 1024 else f"{n / 1024 / 1024:,.1f} MB"


@access(Access.CUSTOMER)
@listens(Topic.DOCUMENTS)
class DocumentsState(PortalState, rx.State):
    loaded: bool = False
    error: str = ""
    notice: str = ""
    docs: list[DocRow] = []
    # Signing: the document's title is shown; its id and the hash of what was shown stay on the server.
    signing_title: str = ""
    signing_url: str = ""
    sign_error: str = ""
    # Uploading
    upload_title: str = ""
    upload_error: str = ""
    _sign_id: int = 0
    _sign_sha256: str = ""
    _upload_id: int = 0

    @rx.var
    def upload_hint(self) -> str:
        mb = get_settings().upload_max_bytes // (1024 * 1024)
        return tr("PDF, PNG or JPEG, up to {mb} MB.", mb=mb)

    @rx.event
    def load(self) -> None:
        self._reload()

    def _reload(self) -> None:
        with session_scope() as db:
            rows = documents.list_documents(db, principal=self._me())
        base = backend_url(self, "")
        self.docs = [
            DocRow(id=d.id, title=d.title, description=d.description,
                   kind=tr(KIND_LABELS.get(d.kind, humanize(d.kind))), status=d.status,
                   status_label=tr(STATUS_LABELS.get(d.status, humanize(d.status))), date=day(d.created_at),
                   size=_size(d.size_bytes), download_url=f"{base}/api/files/documents/{d.id}" if d.has_file else "",
                   can_sign=d.status == "awaiting_signature" and d.kind == "contract" and d.has_file,
                   can_upload=d.status == "requested",
                   signed=tr("Signed by {name} on {when}", name=d.signed_name, when=day_time(d.signed_at))
                   if d.signed_name and d.signed_at
                   else (tr("Signed {when}", when=day_time(d.signed_at)) if d.signed_at else ""))
            for d in rows
        ]
        self.loaded = True

    # -- signing ---------------------------------------------------------------------------------

    @rx.event
    def start_signing(self, document_id: int) -> None:
        if not isinstance(document_id, int) or isinstance(document_id, bool):
            return
        doc = self._call(documents.get_document, document_id=document_id)
        if doc is FAILED:  # FAILED (the type narrows doc)
            return
        # What the person is shown now is what they will sign: its hash is kept with the dialog.
        self._sign_id, self._sign_sha256 = doc.id, doc.sha256
        self.signing_title = doc.title
        self.signing_url = f"{backend_url(self, '')}/api/files/documents/{doc.id}"
        self.sign_error = ""

    @rx.event
    def cancel_signing(self) -> None:
        self._clear_signing()

    def _clear_signing(self) -> None:
        self._sign_id, self._sign_sha256, self.signing_title, self.sign_error = 0, "", "", ""

    @rx.event
    def sign(self, form: dict[str, Any]) -> None:
        """The signing form (typed name and the tick box). The form's inputs keep what was typed;
        nothing typed is echoed back through the state."""
        if not self._sign_id or not isinstance(form, dict):
            return
        name = form.get("full_name", "")
        accepted = form.get("accepted") in ("on", True, "true")
        if not isinstance(name, str):
            return
        if self._call(documents.sign_document, into="sign_error", document_id=self._sign_id,
                      full_name=name[:200], accepted=accepted, viewed_sha256=self._sign_sha256,
                      request=request_info_of(self)) is FAILED:
            return
        self.notice = tr("Thank you: you signed “{title}”.", title=self.signing_title)
        self._clear_signing()
        self._reload()

    # -- uploading -------------------------------------------------------------------------------

    @rx.event
    def start_upload(self, document_id: int) -> None:
        if not isinstance(document_id, int) or isinstance(document_id, bool):
            return
        doc = self._call(documents.get_document, document_id=document_id)
        if doc is FAILED:  # FAILED (the type narrows doc)
            return
        self._upload_id, self.upload_title, self.upload_error = doc.id, doc.title, ""

    @rx.event
    def cancel_upload(self) -> None:
        self._clear_upload()

    def _clear_upload(self) -> None:
        self._upload_id, self.upload_title, self.upload_error = 0, "", ""

    @rx.event
    async def handle_upload(self, files: list[rx.UploadFile]) -> None:
        """The bytes arrive here from Reflex's upload endpoint (a temporary file, never the public
        upload folder); the domain checks them and stores them privately."""
        if not self._upload_id:
            return
        if not isinstance(files, list) or len(files) != 1:
            self.upload_error = tr("Choose one file to upload.")
            return
        limit = get_settings().upload_max_bytes
        upload: Any = files[0]
        if not isinstance(upload, rx.UploadFile):  # a forged event carries no real file
            self.upload_error = tr("Choose one file to upload.")
            return
        await offload(self._receive, upload, limit)

    def _receive(self, upload: Any, limit: int) -> None:
        data = upload.file.read(limit + 1)  # never more than one byte past the limit
        name = str(upload.filename or "")
        if self._call(documents.upload_requested, into="upload_error", document_id=self._upload_id, filename=name,
                      data=data, request=request_info_of(self)) is FAILED:
            return
        self.notice = tr("Thank you: we received “{title}”.", title=self.upload_title)
        self._clear_upload()
        self._reload()
