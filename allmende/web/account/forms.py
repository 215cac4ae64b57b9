"""The forms of the account area: what they ask, and the German words for what the identity services
refuse. Services name the field and, for a password, the reason (``passwords.Weakness``); the pages say it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from allmende.core.problems import Problem
from allmende.web.kit.forms import Field, FormState
from allmende.web.kit.i18n import N_, gettext
from identity.services import passwords

NAME = Field("display_name", N_("Ihr Name"), "text", required=True, max_length=200)
EMAIL = Field("email", N_("E-Mail-Adresse"), "email", required=True, max_length=254)
NEW_PASSWORD = Field(
    "password",
    N_("Passwort"),
    "new-password",
    required=True,
    hint=N_(
        "Mindestens 12 Zeichen. Am besten mehrere Wörter, die nicht zusammengehören. Zahlen oder "
        "Sonderzeichen sind nicht nötig; häufige oder schon in Datenlecks aufgetauchte Passwörter "
        "werden abgelehnt."
    ),
    max_length=passwords.MAX_LENGTH,
)

REGISTER = {f.name: f for f in (NAME, EMAIL, NEW_PASSWORD)}
FORGOT = {"email": EMAIL}
RESET = {"password": Field("password", N_("Neues Passwort"), "new-password", required=True, hint=NEW_PASSWORD.hint)}
PROFILE = {
    "display_name": NAME,
    "language": Field("language", N_("Sprache der Seiten und Benachrichtigungen"), "select", vocabulary="language"),
}
EMAIL_CHANGE = {
    "email": Field("email", N_("Neue E-Mail-Adresse"), "email", required=True, max_length=254),
    "email_password": Field("email_password", N_("Ihr aktuelles Passwort"), "current-password", required=True),
}
PASSWORD_CHANGE = {
    "current_password": Field("current_password", N_("Aktuelles Passwort"), "current-password", required=True),
    "new_password": Field("new_password", N_("Neues Passwort"), "new-password", required=True, hint=NEW_PASSWORD.hint),
}
DELETE = {
    "delete_password": Field("delete_password", N_("Ihr aktuelles Passwort"), "current-password", required=True),
}


class Languages:
    """The language choice as the field macro asks for a vocabulary."""

    @dataclass(frozen=True)
    class Term:
        key: str

    LABELS: Mapping[str, str] = {"de": N_("Deutsch"), "en": N_("Englisch")}

    def terms(self, vocabulary: str) -> list[Languages.Term]:
        return [self.Term(key) for key in self.LABELS]

    def label(self, vocabulary: str, key: str) -> str:
        return gettext(self.LABELS.get(key, key))


LANGUAGES = Languages()


def password_message(reason: str | None) -> str:
    if reason == passwords.Weakness.too_short.value:
        return gettext("Das Passwort braucht mindestens %(n)s Zeichen.", n=str(passwords.MIN_LENGTH))
    if reason == passwords.Weakness.too_long.value:
        return gettext("Das Passwort darf höchstens %(n)s Zeichen haben.", n=str(passwords.MAX_LENGTH))
    if reason == passwords.Weakness.personal.value:
        return gettext("Das Passwort darf nicht aus Ihrem Namen oder Ihrer E-Mail-Adresse bestehen.")
    return gettext(
        "Dieses Passwort ist zu leicht zu erraten: Es ist weit verbreitet, kam in Datenlecks vor oder folgt "
        "einem einfachen Muster. Nehmen Sie zum Beispiel mehrere Wörter, die nicht zusammengehören."
    )


def service_message(problem: Problem) -> str:
    """The German words for what a service refused (by field and reason)."""
    field = problem.field or ""
    if field in ("password", "new_password"):
        return password_message(problem.extra.get("reason"))
    if field == "current_password":
        return gettext("Das aktuelle Passwort stimmt nicht.")
    if field == "display_name":
        return gettext("Bitte geben Sie Ihren Namen an.")
    if field == "email":
        if problem.extra.get("reason") == "in-use":
            return gettext("Diese E-Mail-Adresse gehört bereits zu einem anderen Konto.")
        if problem.extra.get("reason") == "same":
            return gettext("Das ist bereits Ihre E-Mail-Adresse.")
        return gettext("Bitte geben Sie eine gültige E-Mail-Adresse an, zum Beispiel name@kommune.de.")
    if field == "language":
        return gettext("Bitte wählen Sie eine der angebotenen Sprachen.")
    return gettext("Das hat nicht geklappt. Bitte prüfen Sie Ihre Angaben.")


class AccountForm(FormState):
    """A form of this area: the posted values, trimmed, and one message per field."""

    @classmethod
    def posted(cls, raw: Mapping[str, object], names: Mapping[str, Field]) -> AccountForm:
        form = cls()
        for name, spec in names.items():
            value = str(raw.get(name) or "")
            form.values[name] = value if spec.kind.endswith("password") else value.strip()[:1000]
            if spec.required and not form.values[name]:
                form.fail(name, gettext("Bitte füllen Sie dieses Feld aus."))
        return form

    def refused(self, problem: Problem, *, field: str | None = None) -> None:
        """Show a service's refusal at the form's field (``field``: this form's name for it)."""
        self.fail(field or problem.field or "_form", service_message(problem))

    def forget_passwords(self) -> None:
        """A password typed is not shown again."""
        for name in list(self.values):
            if "password" in name:
                self.values[name] = ""
