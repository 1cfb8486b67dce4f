"""Encryption at rest of provider credentials (refresh tokens, passwords): AES-256-GCM.

A :class:`SecretBox` holds a keyring, key id -> 32-byte key, one of which is current. It
seals a secret under the current key and stores the key id beside the ciphertext
(:class:`Sealed`), so older keys keep opening what they sealed until a rotation command has
re-sealed it (:meth:`SecretBox.needs_rotation`, :meth:`SecretBox.rotate`); then the operator
drops them from the setting.

Every seal takes a ``context`` naming where the ciphertext belongs (for instance
``"<account_id>:<connection_id>:refresh_token"``). It is bound, with the key id, as
AES-GCM's associated data: a ciphertext copied into another document, another account or
another field does not open there. Each seal draws a fresh random 96-bit nonce; with one key
that stays safe for far more seals than credentials will ever be written (NIST's bound for
random nonces is 2**32 per key).

Opened secrets travel as :class:`pydantic.SecretStr` (:meth:`SecretBox.open_secret`):
its ``str``, ``repr`` and JSON dump are ``**********``, so a secret reaching a log line, an
exception, an event or an API response by mistake shows nothing. Call
``get_secret_value()`` only where the provider client needs the value. Errors here never
carry key material nor plaintext.

The operator setting (``"k2:<base64url 32 bytes>,k1:<base64url 32 bytes>"``, first =
current; see :meth:`SecretBox.from_setting`) belongs in a ``SecretStr`` field of the
service's settings. ``python -m convene_kit.secret_box`` prints a new key.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # 96 bits, AES-GCM's native nonce size
TAG_BYTES = 16
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")  # never as long as a key (43 base64 characters)
_AAD_PREFIX = b"convene-secret-box/v1\x00"
_SEALED_FIELDS = ("key_id", "nonce", "ciphertext")


class SecretBoxError(Exception):
    """Base of this module's errors; messages name key ids, never keys nor plaintexts."""


class KeyringError(SecretBoxError, ValueError):
    """The keyring (or the operator setting it is parsed from) is not valid."""


class UnknownKey(SecretBoxError):
    """The secret was sealed under a key id the keyring no longer (or never) held."""


class MalformedSealed(SecretBoxError):
    """A stored value is not a sealed secret (a field missing, of the wrong type or size)."""


class DecryptionFailed(SecretBoxError):
    """The ciphertext does not open: altered, or sealed for another context."""


@dataclass(frozen=True, repr=False)
class Sealed(Mapping[str, Any]):
    """One encrypted secret as stored: the key id, the nonce and the ciphertext (with the
    GCM tag). A read-only mapping of those three fields, so ``dict(sealed)`` is the
    document to store. Nonce and ciphertext are BSON binary (``bytes``), which MongoDB and
    FerretDB hold natively: no base64 layer to get wrong, a third smaller, and
    ``json.dumps`` refuses them, so a sealed secret does not slip into an event or an API
    response unnoticed."""

    key_id: str
    nonce: bytes
    ciphertext: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.key_id, str) or not _KEY_ID.fullmatch(self.key_id):
            raise MalformedSealed("a sealed secret's key_id must be 1-32 letters, digits, '_' or '-'")
        if not isinstance(self.nonce, bytes) or len(self.nonce) != NONCE_BYTES:
            raise MalformedSealed(f"a sealed secret's nonce must be {NONCE_BYTES} bytes")
        if not isinstance(self.ciphertext, bytes) or len(self.ciphertext) < TAG_BYTES:
            raise MalformedSealed(f"a sealed secret's ciphertext must be at least {TAG_BYTES} bytes")
        # bson.Binary is a bytes subclass; keep plain bytes so equality and BSON round trips
        # are exact.
        object.__setattr__(self, "nonce", bytes(self.nonce))
        object.__setattr__(self, "ciphertext", bytes(self.ciphertext))

    def __getitem__(self, name: str) -> Any:
        if name not in _SEALED_FIELDS:
            raise KeyError(name)
        return getattr(self, name)

    def __iter__(self) -> Iterator[str]:
        return iter(_SEALED_FIELDS)

    def __len__(self) -> int:
        return len(_SEALED_FIELDS)

    def to_document(self) -> dict[str, Any]:
        """The stored form (``dict(sealed)``): ``{"key_id": str, "nonce": bytes,
        "ciphertext": bytes}``."""
        return {"key_id": self.key_id, "nonce": self.nonce, "ciphertext": self.ciphertext}

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Sealed:
        """The sealed secret a stored document holds (a :class:`Sealed` is returned as it
        is); :class:`MalformedSealed` if it is not one."""
        if isinstance(document, Sealed):
            return document
        if not isinstance(document, Mapping):
            raise MalformedSealed("a sealed secret is stored as a document")
        missing = sorted(set(_SEALED_FIELDS) - set(document))
        if missing:
            raise MalformedSealed(f"a sealed secret lacks {', '.join(missing)}")
        return cls(key_id=document["key_id"], nonce=document["nonce"],
                   ciphertext=document["ciphertext"])

    def __repr__(self) -> str:
        return (f"Sealed(key_id={self.key_id!r}, nonce=<{len(self.nonce)} bytes>, "
                f"ciphertext=<{len(self.ciphertext)} bytes>)")


def generate_key() -> str:
    """A new random 32-byte key, base64url without padding, as the setting takes it
    (``f"k3:{generate_key()}"``)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).rstrip(b"=").decode()


def _decode_key(key_id: str, encoded: str) -> bytes:
    """base64url (standard base64 is taken too), padding optional; errors name the id only."""
    text = encoded.strip().rstrip("=")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise KeyringError(f"key {key_id!r} is not valid base64url") from None


class SecretBox:
    """A keyring that seals secrets under its current key and opens them under any of its
    keys. ``keys`` maps key ids (1-32 letters, digits, ``_``, ``-``) to 32-byte keys."""

    def __init__(self, keys: Mapping[str, bytes], current_key_id: str) -> None:
        if not keys:
            raise KeyringError("the keyring holds no key")
        ciphers: dict[str, AESGCM] = {}
        for key_id, key in keys.items():
            if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
                raise KeyringError("a key id must be 1-32 letters, digits, '_' or '-'")
            if not isinstance(key, (bytes, bytearray)) or len(key) != KEY_BYTES:
                size = f"{len(key)} bytes" if isinstance(key, (bytes, bytearray)) else "not bytes"
                raise KeyringError(f"key {key_id!r} is {size}; AES-256-GCM needs {KEY_BYTES}")
            ciphers[key_id] = AESGCM(bytes(key))  # only the ciphers are kept, not the keys
        if current_key_id not in ciphers:
            raise KeyringError(f"the current key id {current_key_id!r} is not in the keyring")
        self._ciphers = ciphers
        self._current = current_key_id

    @classmethod
    def from_setting(cls, value: str | SecretStr) -> SecretBox:
        """The keyring of an operator setting ``"k2:<key>,k1:<key>"``: comma-separated
        ``<key id>:<base64url 32-byte key>`` entries, the first one current (new secrets are
        sealed under it), the others kept to open older secrets. Whitespace around entries
        is ignored. Raises :class:`KeyringError` (a ``ValueError``, so a pydantic validator
        reports it as a validation error) naming the entry or the key id, never the key."""
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not text or not text.strip():
            raise KeyringError("the keyring setting is empty: give '<key id>:<base64url key>', ...")
        keys: dict[str, bytes] = {}
        for position, entry in enumerate(text.split(","), start=1):
            if not entry.strip():
                raise KeyringError(f"entry {position} of the keyring setting is empty")
            key_id, colon, encoded = entry.strip().partition(":")
            key_id = key_id.strip()
            if not colon or not encoded.strip():
                # Do not echo the entry: without its colon it may be a bare key.
                raise KeyringError(f"entry {position} of the keyring setting is not "
                                   "'<key id>:<base64url key>'")
            if not _KEY_ID.fullmatch(key_id):
                # Not echoed either: a swapped '<key>:<id>' would put the key here.
                raise KeyringError(f"entry {position} of the keyring setting: a key id must be "
                                   "1-32 letters, digits, '_' or '-'")
            if key_id in keys:
                raise KeyringError(f"key id {key_id!r} appears twice in the keyring setting")
            keys[key_id] = _decode_key(key_id, encoded)
        return cls(keys, current_key_id=next(iter(keys)))

    @property
    def current_key_id(self) -> str:
        """The id of the key new secrets are sealed under."""
        return self._current

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every key id of the keyring, the current one first."""
        return (self._current, *(k for k in self._ciphers if k != self._current))

    def seal(self, plaintext: str | SecretStr, *, context: str) -> Sealed:
        """Encrypt ``plaintext`` (UTF-8) under the current key with a fresh random nonce,
        bound to ``context`` (where it will be stored, e.g. ``"acc_1:conn_9:refresh_token"``):
        only :meth:`open` with the same context opens it."""
        secret = plaintext.get_secret_value() if isinstance(plaintext, SecretStr) else plaintext
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = self._ciphers[self._current].encrypt(
            nonce, secret.encode("utf-8"), _associated_data(self._current, context))
        return Sealed(key_id=self._current, nonce=nonce, ciphertext=ciphertext)

    def open(self, sealed: Mapping[str, Any], *, context: str) -> str:
        """The plaintext of ``sealed`` (a :class:`Sealed` or its stored document), which
        must have been sealed for ``context``.

        Raises :class:`MalformedSealed` if it is not a sealed secret, :class:`UnknownKey` if
        its key id is not in the keyring and :class:`DecryptionFailed` if it was altered
        (ciphertext, nonce or key id) or sealed for another context. Prefer
        :meth:`open_secret` unless the value is used at once.
        """
        stored = Sealed.from_document(sealed)
        cipher = self._ciphers.get(stored.key_id)
        if cipher is None:
            raise UnknownKey(f"the secret was sealed under key id {stored.key_id!r}, which is not "
                             f"in the keyring ({', '.join(self.key_ids)})")
        try:
            plaintext = cipher.decrypt(stored.nonce, stored.ciphertext,
                                       _associated_data(stored.key_id, context))
        except InvalidTag:
            raise DecryptionFailed(
                f"the secret does not open under key {stored.key_id!r}: it was altered or "
                "sealed for another context") from None
        return plaintext.decode("utf-8")

    def open_secret(self, sealed: Mapping[str, Any], *, context: str) -> SecretStr:
        """:meth:`open`, the plaintext wrapped so that it prints as ``**********``."""
        return SecretStr(self.open(sealed, context=context))

    def needs_rotation(self, sealed: Mapping[str, Any]) -> bool:
        """True if ``sealed`` (a :class:`Sealed` or its stored document) is under another
        key than the current one."""
        return Sealed.from_document(sealed).key_id != self._current

    def rotate(self, sealed: Mapping[str, Any], *, context: str) -> Sealed:
        """``sealed`` re-sealed under the current key (same context, new nonce). If it is
        under the current key already it comes back unchanged, once checked to open
        (:meth:`needs_rotation` tells whether there is anything to write). Raises as
        :meth:`open` does."""
        stored = Sealed.from_document(sealed)
        plaintext = self.open(stored, context=context)
        if not self.needs_rotation(stored):
            return stored
        return self.seal(plaintext, context=context)

    def __repr__(self) -> str:
        return f"SecretBox(current_key_id={self._current!r}, key_ids={self.key_ids!r})"


def _associated_data(key_id: str, context: str) -> bytes:
    """What GCM authenticates beside the ciphertext: a version tag, the key id (no NUL in
    it, so the encoding is unambiguous) and the context."""
    if not isinstance(context, str) or not context:
        raise ValueError("a secret is sealed and opened for a non-empty context")
    return _AAD_PREFIX + key_id.encode("ascii") + b"\x00" + context.encode("utf-8")


if __name__ == "__main__":  # python -m convene_kit.secret_box: a key for the setting
    print(generate_key())
