"""The assistant's main intents are recognised in German and French too (patterns, no model), and
its replies come in the language of the person served."""

from __future__ import annotations

import pytest

from portal.domain import assistant as a

CASES: dict[str, list[str]] = {
    a.ORDER_STATUS: ["Wo ist meine Bestellung?", "Wann kommt meine Bestellung an?",
                     "Wie ist der Status meiner Bestellung?", "Ist meine Bestellung schon unterwegs?",
                     "Où est ma commande ?", "Quand vais-je recevoir ma commande ?",
                     "Quel est le statut de ma commande ?", "Ma commande est-elle partie ?"],
    a.TRACK: ["Wo ist mein Paket?", "Ich möchte meine Sendung verfolgen", "Sendungsnummer bitte",
              "Wo bleibt mein Päckchen?", "Où est mon colis ?", "Je veux suivre mon colis",
              "numéro de suivi de mon envoi", "Où en est ma livraison ?"],
    a.RETURN: ["Ich möchte etwas zurückschicken", "Die Schuhe passen nicht, ich will sie zurückgeben",
               "Rücksendung für FH-1001", "Ich möchte mein Geld zurück", "Je veux retourner un article",
               "Je voudrais renvoyer ces chaussures", "faire un retour pour FH-1001", "je veux être remboursé"],
    a.INVOICE: ["Ich brauche eine Rechnung", "Rechnung für FH-1001 bitte", "Ich möchte meine Rechnung bezahlen",
                "Quittung für meinen Einkauf", "J'ai besoin de ma facture", "Je veux payer ma facture",
                "un reçu pour ma commande", "facture FH-1001"],
    a.HUMAN: ["Ich möchte mit einem Menschen sprechen", "Bitte verbinden Sie mich mit einem Mitarbeiter",
              "Kann ich mit jemandem reden?", "Kundenservice bitte", "Je veux parler à quelqu'un",
              "Je voudrais parler à un conseiller", "Passez-moi un humain", "service client s'il vous plaît"],
    a.CANCEL: ["Ich möchte meine Bestellung stornieren", "Bitte FH-1001 stornieren",
               "Ich will die Bestellung nicht mehr", "Bestellung abbrechen", "Je veux annuler ma commande",
               "Annulez FH-1001", "je ne veux plus ma commande", "annulation de commande"],
}


@pytest.mark.parametrize(("intent", "text"), [(i, t) for i, texts in CASES.items() for t in texts])
def test_german_and_french_requests_are_recognised(intent: str, text: str) -> None:
    assert a.recognise(text) == intent


def test_english_still_works_and_unrelated_questions_are_not_orders() -> None:
    # Positive controls in English
    assert a.recognise("where is my order") == a.ORDER_STATUS
    assert a.recognise("cancel FH-1001") == a.CANCEL
    # Negative: a care question in German or French is not an order request
    for text in ("Wie pflege ich meine Wanderschuhe richtig?", "Comment entretenir ma tente ?"):
        assert a.recognise(text) not in a.NEEDS_ORDER | {a.HUMAN}


def test_the_translated_quick_replies_are_understood_when_tapped() -> None:
    from portal.domain.assistant_shapes import NO, YES
    from portal.i18n import in_language, tr

    wanted = {"Where is my order?": a.ORDER_STATUS, "Track my parcel": a.TRACK, "Talk to a person": a.HUMAN}
    for english, intent in wanted.items():
        assert a.recognise(english) == intent  # positive control: the English original
        for lang in ("de", "fr"):
            with in_language(lang):
                shown = tr(english)
            assert shown != english, (lang, english)  # what the catalog shows in that language
            assert a.recognise(shown) == intent, (lang, shown)
    for lang in ("de", "fr"):
        with in_language(lang):
            yes, no = tr("Yes"), tr("No")
        assert YES.match(yes) and not NO.match(yes)
        assert NO.match(no) and not YES.match(no)
