"""The password policy refuses short, guessable and personal passwords, and nothing else."""

import pytest

from allmende.core.problems import InvalidInput
from identity.services import passwords
from identity.services.passwords import Weakness


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("kurz", Weakness.too_short),
        ("x" * 1001, Weakness.too_long),
        ("password1234", Weakness.guessable),
        ("123456789012", Weakness.guessable),
        ("qwertzuiopüü", Weakness.guessable),
        ("Sommer2024Sommer2024", Weakness.guessable),
        ("anna.schmidt1", Weakness.personal),
    ],
)
def test_weak_passwords_are_refused_with_their_reason(password: str, expected: Weakness) -> None:
    assert passwords.weakness(password, email="anna.schmidt@example.org", name="Anna Schmidt") is expected


@pytest.mark.parametrize("password", ["correct horse battery staple", "hamburg-rathaus-fahrrad", "Gd8#kq2!Lm9zQ"])
def test_long_uncommon_passwords_pass_without_composition_rules(password: str) -> None:
    assert passwords.weakness(password, email="anna@example.org", name="Anna Schmidt") is None


def test_check_names_the_field_and_the_reason() -> None:
    with pytest.raises(InvalidInput) as caught:
        passwords.check("password1234", field="new_password")
    assert caught.value.field == "new_password"
    assert caught.value.extra == {"reason": "guessable"}
