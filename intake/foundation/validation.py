"""Checks on what workers type: mainland mobile numbers and resident ID numbers (GB 11643 checksum)."""
from __future__ import annotations

import re
import unicodedata
from datetime import date

# Unicode format characters (Cf): zero-width spaces and joiners, bidi marks and overrides, the BOM, soft hyphens.
# Invisible, so nobody means them, yet "三万\u200b五" would read as 30000. None lie in planes 2 to 13.
_INVISIBLE = dict.fromkeys(c for c in (*range(0x20000), *range(0xE0000, 0xE1000))
                           if unicodedata.category(chr(c)) == "Cf")
_OTHER_DIGIT = re.compile(r"(?![0-9])\d")  # \d is any script's decimal digit
_PHONE = re.compile(r"1[3-9]\d{9}")
_ID = re.compile(r"\d{17}[\dX]")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# The bounds of every number a person or a system gives us (form, console, API, chat): beyond them a number is a
# typing slip, and beyond the columns' range it would be a database error instead of a clear message.
AMOUNT_MAX = 10_000_000_000  # yuan: more than any one wage claim
WORKERS_MAX = 100_000
MONTHS_MAX = 600
DAYS_MAX = 365  # working days of one extension
ROW_ID_MAX = 2**31 - 1  # the largest id an INTEGER column holds


def drop_invisible(text: str) -> str:
    return text.translate(_INVISIBLE)


def normalise_digits(text: str) -> str:
    """Full-width digits and letters to ASCII, and any script's digits (Arabic-Indic, Devanagari ...) to ASCII
    ones, which is all a gateway or a database index takes; spaces, dashes and invisible characters removed."""
    text = unicodedata.normalize("NFKC", drop_invisible(text or ""))
    text = _OTHER_DIGIT.sub(lambda m: str(unicodedata.decimal(m.group(0))), text)
    return re.sub(r"[\s\-]", "", text)


def normalise_phone(text: str) -> str | None:
    """A mainland mobile number as 11 digits, or None. Accepts +86 / 0086 prefixes and spaces."""
    digits = normalise_digits(text)
    digits = re.sub(r"^(\+?86|0086)(?=1\d{10}$)", "", digits)
    return digits if _PHONE.fullmatch(digits) else None


def normalise_id_number(text: str) -> str | None:
    """An 18-character resident ID with a valid birth date and check digit, or None."""
    value = normalise_digits(text).upper()
    if not _ID.fullmatch(value):
        return None
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return None
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS))
    return value if _ID_CHECK[total % 11] == value[17] else None


def mask_phone(phone: str | None) -> str:
    return f"{phone[:3]}****{phone[-4:]}" if phone and len(phone) >= 8 else ""


def mask_id_number(value: str) -> str:
    return f"{value[:6]}********{value[-4:]}"


# A mobile or resident ID number inside free text (digits maybe split by spaces or dashes, as people type them).
_ID_IN_TEXT = re.compile(r"(?<![0-9])\d{6}(?:[ -]?\d){11}[ -]?[\dXx](?![0-9A-Za-z])", re.ASCII)
_PHONE_IN_TEXT = re.compile(r"(?<![0-9])(?:\+?86[ -]?)?1[3-9]\d(?:[ -]?\d){8}(?![0-9])", re.ASCII)


def mask_numbers(text: str) -> str:
    """Free text as staff, clients and stored payloads may keep it: phone and ID numbers in it masked the way
    the lists mask them. The one function every reader of a worker's words calls; the full text only through
    the audited reveal."""
    text = _ID_IN_TEXT.sub(lambda m: mask_id_number(re.sub(r"[ -]", "", m.group(0))), text or "")
    return _PHONE_IN_TEXT.sub(lambda m: mask_phone(re.sub(r"[ -]", "", m.group(0))[-11:]), text)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def clean_text(text: str) -> str:
    """What people typed, minus control characters (a NUL cannot even be stored by PostgreSQL), lone
    surrogates (a JSON push may carry "\\ud800", which no database encodes) and U+FFFE / U+FFFF: whatever XML
    cannot carry, so every Open311 .xml answer stays well-formed. Line breaks and tabs stay."""
    return _CONTROL.sub("", text or "")
