"""Reading received mail: HTML made safe text, the new part of a reply, loops recognised."""

from __future__ import annotations

from portal.integrations.mail_parse import html_to_text, parse, strip_reply


def test_html_only_mail_becomes_text_without_markup_or_scripts() -> None:
    raw = (b"From: Ann <ann@example.com>\r\nTo: support@fernhill.example\r\nSubject: Hi\r\n"
           b"Message-ID: <h1@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
           b"<html><head><style>p{color:red}</style><title>T</title></head><body>"
           b"<p>Size&nbsp;M &amp; blue &lt;please&gt;</p><script>document.cookie</script>"
           b"<img src=\"cid:x\" alt=\"photo\"><div>Thanks<br>Ann</div></body></html>\r\n")
    mail = parse(raw)
    assert mail.text == "Size M & blue <please>\n[image: photo]\nThanks\nAnn"
    assert "cookie" not in mail.text and "color" not in mail.text
    # The "<please>" above is text now, shown as text; a tag never survives as markup
    assert html_to_text("<b onclick='x()'>bold</b>") == "bold"


def test_the_new_part_of_a_reply_in_several_clients() -> None:
    outlook = "Yes, Tuesday works.\n\nFrom: Fernhill Support <support@fernhill.example>\nSent: Monday\nTo: Ann\n" \
              "Subject: Re: delivery\n\nWould Tuesday suit you?"
    german = "Passt, danke!\n\nAm 3. Dezember 2026 um 10:00 schrieb Fernhill <support@fernhill.example>:\n> Hallo"
    wrapped = "Great.\n\nOn Thu, 3 Dec 2026 at 15:40, Fernhill Outfitters\n<support@fernhill.example> wrote:\n> Hi"
    assert strip_reply(outlook) == "Yes, Tuesday works."
    assert strip_reply(german) == "Passt, danke!"
    assert strip_reply(wrapped) == "Great."
    # Text that is all quote is kept whole rather than lost
    assert strip_reply("> only a quote") == "> only a quote"


def test_machines_are_recognised() -> None:
    base = b"From: %s\r\nTo: support@fernhill.example\r\nSubject: x\r\nMessage-ID: <m@x>\r\n%s\r\nhello\r\n"
    person = parse(base % (b"ann@example.com", b""))
    assert not person.automated
    for sender, header in [(b"ann@example.com", b"Auto-Submitted: auto-replied\r\n"),
                           (b"ann@example.com", b"Precedence: junk\r\n"),
                           (b"ann@example.com", b"List-Id: <l.example.com>\r\n"),
                           (b"MAILER-DAEMON@mx.example.com", b""), (b"no-reply@shop.example", b""),
                           (b"ann@example.com", b"Return-Path: <>\r\n")]:
        assert parse(base % (sender, header)).automated, (sender, header)
