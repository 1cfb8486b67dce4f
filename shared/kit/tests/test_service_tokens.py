"""Service tokens: what the callee accepts, and how a bad setting is refused."""

from __future__ import annotations

import pytest
from convene_kit.service_tokens import ServiceTokens
from pydantic import SecretStr

A = "a" * 43
B = "b" * 43


def test_each_token_names_its_service_and_nothing_else_is_accepted() -> None:
    tokens = ServiceTokens.from_setting(SecretStr(f" booking-pages:{A} , reports:{B} "))
    assert tokens.caller(A) == "booking-pages"
    assert tokens.caller(B) == "reports"
    assert tokens.caller(A[:-1]) is None and tokens.caller("") is None


def test_an_empty_setting_accepts_no_one() -> None:
    assert ServiceTokens.from_setting("").caller(A) is None


@pytest.mark.parametrize("setting", ["booking-pages", f":{A}", "x:", f"x:{A},x:{B}", "x:short"])
def test_a_malformed_setting_is_refused_without_echoing_tokens(setting: str) -> None:
    with pytest.raises(ValueError) as refused:
        ServiceTokens.from_setting(setting)
    assert A not in str(refused.value) and B not in str(refused.value)
