"""Personal data at rest: phone and ID numbers encrypted in the database, found again by a keyed hash.

Fernet (from `cryptography`) rather than hand-assembled AES-GCM: a token is authenticated (AES-128-CBC with
HMAC-SHA256), so a wrong key raises instead of returning garbage; `MultiFernet` reads under several keys and
`rotate()` re-encrypts under the first, which is exactly key rotation; there are no nonces for us to get wrong.
About 100 bytes a value is no cost for a phone number.

Ciphertexts differ every time, so look-ups use an HMAC-SHA256 of the value under a hash key derived (HKDF) from
each data key; the hash key rotates with its data key, as a leaked one would let anyone test phone numbers.
While a rotation runs a look-up matches the hash under any configured key (`lookup_hashes`).

A chat user known only by a phone number (an SMS sender) is stored under an `identity`: an HMAC of the number
under a key derived from the secret key for that purpose alone. It keys rows that are looked up on every message
(the conversation, the inbound messages, the complaint's channel identity, the outbox destination) and that
nothing else holds the number to re-key from, so it does not rotate with the data keys; where the number itself
is needed (to send a text) it is kept encrypted beside it.

The keys are process-wide: the composition root calls `configure` once from settings, and a column of type
`EncryptedText` then reads and writes plain text in Python.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import LargeBinary, Text, TypeDecorator

# Only when neither a data key nor a secret key is configured (a first local run): the data is then readable by
# anyone who has this source, which the warning at start-up and `qingling doctor` say.
DEVELOPMENT_SECRET = "qingling-development-only"
IDENTITY_PURPOSE = "chat identity"
# An identity starts with this mark, which no phone number, WeChat openid or earlier stored value does.
IDENTITY_MARK = "#"
# Channels whose users are known by their phone number, stored as an identity instead.
PHONE_CHANNELS = frozenset({"sms"})


class DataKeyError(RuntimeError):
    """The data keys are missing, malformed, or not the ones a stored value was encrypted with."""


@dataclass(frozen=True)
class DataKeys:
    fernets: tuple[Fernet, ...]  # the current key first, then older ones still read
    hash_keys: tuple[bytes, ...]
    identity_key: bytes
    reader: MultiFernet  # all of `fernets`, built once: every decrypted column value goes through it


_keys: DataKeys | None = None


def _derive(material: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"qingling " + purpose).derive(material)


def derived_data_key(secret_key: str) -> str:
    """The data key when none is configured: a development convenience, never for real workers' data."""
    return base64.urlsafe_b64encode(_derive((secret_key or DEVELOPMENT_SECRET).encode(), b"data key")).decode()


def purpose_key(secret_key: str, purpose: str) -> bytes:
    """A key for one use of the secret key (a kind of signed link): one purpose's signatures never pass for
    another's, and none of them is the session key itself."""
    return _derive(secret_key.encode(), b"purpose " + purpose.encode())


def configure(keys: Sequence[str], secret_key: str = "") -> None:
    """Use these keys from now on: the first encrypts and hashes, every one decrypts and matches; identities are
    keyed by `secret_key` (the development constant without one)."""
    global _keys
    if not keys:
        raise DataKeyError("no data key given")
    fernets, hash_keys = [], []
    for number, key in enumerate(keys, 1):
        try:
            fernets.append(Fernet(key))
        except (ValueError, TypeError):
            raise DataKeyError(f"data key {number} is not 32 bytes of urlsafe base64 (make one with "
                               "Fernet.generate_key())") from None
        hash_keys.append(_derive(base64.urlsafe_b64decode(key), b"lookup hash"))
    _keys = DataKeys(tuple(fernets), tuple(hash_keys), purpose_key(secret_key or DEVELOPMENT_SECRET, IDENTITY_PURPOSE),
                     MultiFernet(fernets))


def current() -> DataKeys:
    if _keys is None:
        raise DataKeyError("data keys are not configured: the app factory (create_app) sets them from settings")
    return _keys


def encrypt(value: str) -> str:
    return current().fernets[0].encrypt(value.encode()).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return _opened(token.encode("ascii")).decode()
    except UnicodeEncodeError:
        raise _undecryptable() from None


def encrypt_bytes(value: bytes) -> bytes:
    """A file sealed: the Fernet token with its base64 undone, a quarter smaller than the text form."""
    return base64.urlsafe_b64decode(current().fernets[0].encrypt(value))


def decrypt_bytes(sealed: bytes) -> bytes:
    return _opened(base64.urlsafe_b64encode(sealed))


def _opened(token: bytes) -> bytes:
    try:
        return current().reader.decrypt(token)
    except InvalidToken:
        raise _undecryptable() from None


def _undecryptable() -> DataKeyError:
    return DataKeyError("a stored value cannot be decrypted with the configured data keys: "
                        "QINGLING_PRIVACY_DATA_KEY (or a previous key) is not the one it was written with")


def is_current(token: str | bytes) -> bool:
    """Whether a stored value (a text token, or a sealed file's bytes) is encrypted under the current key (else
    `rotate` has work to do)."""
    try:
        current().fernets[0].decrypt(token.encode("ascii") if isinstance(token, str) else base64.urlsafe_b64encode(token))
    except InvalidToken:
        return False
    return True


def lookup_hash(value: str) -> str:
    return hmac.new(current().hash_keys[0], value.encode(), hashlib.sha256).hexdigest()


def lookup_hashes(value: str) -> list[str]:
    """The value's hash under every configured key: what a query matches while a rotation is under way."""
    return [hmac.new(key, value.encode(), hashlib.sha256).hexdigest() for key in current().hash_keys]


def identity(value: str) -> str:
    """A phone number as the key of the rows that stand for its owner: "#" and 64 hex digits, the same every time."""
    return IDENTITY_MARK + hmac.new(current().identity_key, value.encode(), hashlib.sha256).hexdigest()


def is_identity(value: str) -> bool:
    return value.startswith(IDENTITY_MARK)


def chat_user(channel: str, user_id: str) -> str:
    """The key a chat user's rows are stored under: an SMS sender's number as its identity, other ids as given."""
    return identity(user_id) if channel in PHONE_CHANNELS and not is_identity(user_id) else user_id


class EncryptedText(TypeDecorator):
    """Plain text in Python, a Fernet token in the database. Not searchable: keep a `lookup_hash` beside it."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else encrypt(value)

    def process_result_value(self, value, dialect):
        return None if value is None else decrypt(value)


class EncryptedBytes(TypeDecorator):
    """Bytes in Python (a file as received), sealed with the data key in the database (`encrypt_bytes`)."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else encrypt_bytes(value)

    def process_result_value(self, value, dialect):
        return None if value is None else decrypt_bytes(value)
