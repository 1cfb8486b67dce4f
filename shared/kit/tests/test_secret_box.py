"""Provider credentials sealed at rest (convene_kit.secret_box): they open only with a key of
the keyring and in the context they were sealed for, any change to what is stored is
detected, old keys keep working until a rotation re-seals, and no repr, str or error message
shows a key or a plaintext."""

from __future__ import annotations

import base64
import json
import logging
import traceback
from dataclasses import replace

import pytest
from convene_kit.secret_box import (
    DecryptionFailed,
    KeyringError,
    MalformedSealed,
    Sealed,
    SecretBox,
    SecretBoxError,
    UnknownKey,
    generate_key,
)
from convene_kit.testing import FakeStore
from pydantic import SecretStr

K1 = bytes(range(32))
K2 = bytes(range(100, 132))
REFRESH_TOKEN = "1//0g-refresh-token-of-alice"
CONTEXT = "acc_1:conn_1:refresh_token"


def b64url(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).rstrip(b"=").decode()


def shown(*values: object) -> str:
    """Everything a log line or a traceback could show of these values."""
    return " ".join(f"{value!r} {value!s}" for value in values)


def secret_forms(key: bytes) -> list[str]:
    return [b64url(key), base64.b64encode(key).decode(), repr(key), key.hex()]


def flip_bit(data: bytes, index: int = 0) -> bytes:
    return data[:index] + bytes([data[index] ^ 1]) + data[index + 1:]


@pytest.fixture
def box() -> SecretBox:
    return SecretBox({"k1": K1}, "k1")


def test_a_sealed_secret_opens_in_its_context(box: SecretBox) -> None:
    sealed = box.seal(REFRESH_TOKEN, context=CONTEXT)
    assert sealed.key_id == "k1"
    assert REFRESH_TOKEN.encode() not in sealed.ciphertext
    assert box.open(sealed, context=CONTEXT) == REFRESH_TOKEN
    assert box.seal("pässwörd ✓", context=CONTEXT) != sealed
    assert box.open(box.seal("pässwörd ✓", context=CONTEXT), context=CONTEXT) == "pässwörd ✓"
    assert box.open(box.seal("", context=CONTEXT), context=CONTEXT) == ""


def test_every_seal_draws_a_new_nonce(box: SecretBox) -> None:
    seals = [box.seal(REFRESH_TOKEN, context=CONTEXT) for _ in range(50)]
    assert len({s.nonce for s in seals}) == 50
    assert len({s.ciphertext for s in seals}) == 50
    assert all(len(s.nonce) == 12 for s in seals)


def test_a_secret_given_as_secretstr_is_sealed_and_opened_as_one(box: SecretBox) -> None:
    sealed = box.seal(SecretStr(REFRESH_TOKEN), context=CONTEXT)
    opened = box.open_secret(sealed, context=CONTEXT)
    assert isinstance(opened, SecretStr)
    assert opened.get_secret_value() == REFRESH_TOKEN
    assert REFRESH_TOKEN not in shown(opened) + json.dumps({"t": str(opened)})


@pytest.mark.parametrize("other", [
    "acc_2:conn_1:refresh_token",  # another account's document
    "acc_1:conn_2:refresh_token",  # another connection
    "acc_1:conn_1:password",  # another field
    "acc_1:conn_1:refresh_token ",
])
def test_a_secret_does_not_open_in_another_context(box: SecretBox, other: str) -> None:
    sealed = box.seal(REFRESH_TOKEN, context=CONTEXT)
    with pytest.raises(DecryptionFailed):
        box.open(sealed, context=other)


def test_a_context_must_be_given(box: SecretBox) -> None:
    with pytest.raises(ValueError, match="non-empty context"):
        box.seal(REFRESH_TOKEN, context="")
    with pytest.raises(ValueError, match="non-empty context"):
        box.open(box.seal(REFRESH_TOKEN, context=CONTEXT), context="")


def test_any_change_to_the_ciphertext_or_the_nonce_is_detected(box: SecretBox) -> None:
    sealed = box.seal(REFRESH_TOKEN, context=CONTEXT)
    for index in (0, len(sealed.ciphertext) // 2, len(sealed.ciphertext) - 1):  # data and tag
        with pytest.raises(DecryptionFailed) as failed:
            box.open(replace(sealed, ciphertext=flip_bit(sealed.ciphertext, index)),
                     context=CONTEXT)
        assert REFRESH_TOKEN not in str(failed.value)
    with pytest.raises(DecryptionFailed):
        box.open(replace(sealed, ciphertext=sealed.ciphertext[:-1]), context=CONTEXT)
    with pytest.raises(DecryptionFailed):
        box.open(replace(sealed, nonce=flip_bit(sealed.nonce, 5)), context=CONTEXT)


def test_a_changed_key_id_is_detected_even_when_it_names_the_same_key() -> None:
    both = SecretBox({"k2": K2, "k1": K1}, "k2")
    sealed = both.seal(REFRESH_TOKEN, context=CONTEXT)
    with pytest.raises(DecryptionFailed):
        both.open(replace(sealed, key_id="k1"), context=CONTEXT)
    # The key id is authenticated too: the same key under another id does not open it.
    aliased = SecretBox({"k2": K2, "alias": K2}, "k2")
    assert aliased.open(sealed, context=CONTEXT) == REFRESH_TOKEN
    with pytest.raises(DecryptionFailed):
        aliased.open(replace(sealed, key_id="alias"), context=CONTEXT)


def test_a_key_id_not_in_the_keyring_is_named_in_the_error(box: SecretBox) -> None:
    sealed = SecretBox({"k0": K2}, "k0").seal(REFRESH_TOKEN, context=CONTEXT)
    with pytest.raises(UnknownKey, match="'k0'.*\\(k1\\)") as failed:
        box.open(sealed, context=CONTEXT)
    assert isinstance(failed.value, SecretBoxError)
    assert not any(form in str(failed.value) for form in secret_forms(K1) + secret_forms(K2))


def test_old_keys_open_until_a_rotation_reseals_under_the_current_key() -> None:
    before = SecretBox({"k1": K1}, "k1")
    old = before.seal(REFRESH_TOKEN, context=CONTEXT)
    after = SecretBox.from_setting(f"k2:{b64url(K2)},k1:{b64url(K1)}")
    assert after.needs_rotation(old)
    assert after.open(old, context=CONTEXT) == REFRESH_TOKEN  # k1 still opens its secrets

    rotated = after.rotate(old, context=CONTEXT)
    assert rotated.key_id == "k2"
    assert rotated.nonce != old.nonce
    assert not after.needs_rotation(rotated)
    assert after.rotate(rotated, context=CONTEXT) is rotated  # nothing left to re-seal
    # Once everything is rotated, k1 can leave the keyring.
    only_k2 = SecretBox.from_setting(f"k2:{b64url(K2)}")
    assert only_k2.open(rotated, context=CONTEXT) == REFRESH_TOKEN
    with pytest.raises(UnknownKey):
        only_k2.open(old, context=CONTEXT)


def test_rotation_refuses_what_does_not_open(box: SecretBox) -> None:
    after = SecretBox({"k2": K2, "k1": K1}, "k2")
    old = box.seal(REFRESH_TOKEN, context=CONTEXT)
    with pytest.raises(DecryptionFailed):
        after.rotate(old, context="acc_2:conn_1:refresh_token")
    current = after.seal(REFRESH_TOKEN, context=CONTEXT)
    with pytest.raises(DecryptionFailed):  # checked even when there is nothing to re-seal
        after.rotate(replace(current, nonce=flip_bit(current.nonce)), context=CONTEXT)


async def test_a_sealed_secret_survives_the_store_as_binary(box: SecretBox) -> None:
    connections = FakeStore().collection("calendar_connections")
    sealed = box.seal(REFRESH_TOKEN, context=CONTEXT)
    assert dict(sealed) == sealed.to_document() == {
        "key_id": "k1", "nonce": sealed.nonce, "ciphertext": sealed.ciphertext}
    await connections.insert_one({"_id": "acc_1:conn_1", "refresh_token": dict(sealed)})
    stored = await connections.find_one({"_id": "acc_1:conn_1"})
    assert stored is not None
    assert isinstance(stored["refresh_token"]["ciphertext"], bytes)
    assert Sealed.from_document(stored["refresh_token"]) == sealed
    # The stored document is opened (and rotated) as it is read.
    assert box.open(stored["refresh_token"], context=CONTEXT) == REFRESH_TOKEN
    assert not box.needs_rotation(stored["refresh_token"])
    assert box.rotate(stored["refresh_token"], context=CONTEXT) == sealed
    with pytest.raises(DecryptionFailed):
        box.open({**stored["refresh_token"], "nonce": bytes(12)}, context=CONTEXT)


@pytest.mark.parametrize("document", [
    {"key_id": "k1", "nonce": bytes(12)},
    {"key_id": "k1", "nonce": bytes(11), "ciphertext": bytes(32)},
    {"key_id": "k1", "nonce": bytes(12), "ciphertext": bytes(15)},
    {"key_id": "k1", "nonce": "AAAAAAAAAAAAAAAA", "ciphertext": bytes(32)},
    {"key_id": "", "nonce": bytes(12), "ciphertext": bytes(32)},
    {"key_id": 1, "nonce": bytes(12), "ciphertext": bytes(32)},
])
def test_a_stored_value_that_is_not_a_sealed_secret_is_refused(box: SecretBox,
                                                               document: dict) -> None:
    with pytest.raises(MalformedSealed):
        Sealed.from_document(document)
    with pytest.raises(MalformedSealed):
        box.open(document, context=CONTEXT)


def test_from_setting_makes_the_first_key_current() -> None:
    padded = base64.b64encode(K1).decode()  # `openssl rand -base64 32` output is taken too
    box = SecretBox.from_setting(SecretStr(f" k2:{b64url(K2)} ,\n k1:{padded}\n"))
    assert box.current_key_id == "k2"
    assert box.key_ids == ("k2", "k1")
    assert box.seal(REFRESH_TOKEN, context=CONTEXT).key_id == "k2"
    assert box.open(SecretBox({"k1": K1}, "k1").seal("x", context=CONTEXT), context=CONTEXT) == "x"


@pytest.mark.parametrize(("setting", "message"), [
    ("", "empty"),
    ("  \n", "empty"),
    (f"k1:{b64url(K1)},", "entry 2 .* empty"),
    (b64url(K1), "entry 1 .* not '<key id>:<base64url key>'"),
    ("k1:", "entry 1 .* not '<key id>:<base64url key>'"),
    (f"{b64url(K1)}:k1", "entry 1 .* key id must be"),
    (f"k 1:{b64url(K1)}", "entry 1 .* key id must be"),
    (f"k1:{b64url(K1)},k1:{b64url(K2)}", "'k1' appears twice"),
    (f"k1:{b64url(K1[:16])}", "'k1' is 16 bytes; AES-256-GCM needs 32"),
    (f"k1:{b64url(K1 + b'x')}", "'k1' is 33 bytes"),
    (f"k1:{b64url(K1)[:-1]}!", "'k1' is not valid base64url"),
    (f"k1:{b64url(K1)}AB", "'k1' is not valid base64url"),  # 45 characters: no whole byte
])
def test_from_setting_errors_say_what_is_wrong_without_the_keys(setting: str, message: str) -> None:
    with pytest.raises(KeyringError, match=message) as failed:
        SecretBox.from_setting(setting)
    assert isinstance(failed.value, ValueError)  # pydantic validators report ValueErrors
    printed = "".join(traceback.format_exception(failed.value))  # with any chained error
    assert not any(form in printed for form in secret_forms(K1) + secret_forms(K2))


def test_the_constructor_checks_the_keyring() -> None:
    with pytest.raises(KeyringError, match="no key"):
        SecretBox({}, "k1")
    with pytest.raises(KeyringError, match="'k2' is not in the keyring"):
        SecretBox({"k1": K1}, "k2")
    with pytest.raises(KeyringError, match="'k1' is 31 bytes") as failed:
        SecretBox({"k1": K1[:31]}, "k1")
    assert not any(form in str(failed.value) for form in secret_forms(K1[:31]))


def test_generate_key_makes_distinct_keys_the_setting_takes() -> None:
    first, second = generate_key(), generate_key()
    assert first != second
    assert len(base64.urlsafe_b64decode(first + "=")) == 32
    box = SecretBox.from_setting(f"k9:{first}")
    assert box.open(box.seal(REFRESH_TOKEN, context=CONTEXT), context=CONTEXT) == REFRESH_TOKEN


def test_nothing_shows_a_key_or_a_plaintext(caplog: pytest.LogCaptureFixture) -> None:
    box = SecretBox.from_setting(f"k2:{b64url(K2)},k1:{b64url(K1)}")
    sealed = box.seal(REFRESH_TOKEN, context=CONTEXT)
    opened = box.open_secret(sealed, context=CONTEXT)
    with caplog.at_level(logging.INFO):
        logging.getLogger("calendar_sync").info("box %s sealed %r opened %s", box, sealed, opened)
    text = shown(box, sealed, opened, vars(box)) + caplog.text
    assert "k2" in repr(box) and "k1" in repr(box) and "k2" in repr(sealed)
    assert not any(form in text for form in secret_forms(K1) + secret_forms(K2))
    assert REFRESH_TOKEN not in text
    assert sealed.ciphertext.hex() not in text and repr(sealed.ciphertext) not in text
