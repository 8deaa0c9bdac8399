"""What a conversation has gathered so far (Conversation.draft, a JSON column), as a typed structure.

On disk it is the same JSON object the dialogue always stored: a field is written once it was set, and only
then (`to_json` leaves out what was never set, so {} and {"last_ticket": ...} stay just that); a field that
was taken out (`drop`) goes again. Stored drafts of any age load with `from_json`: every key the dialogue has
ever written is a field here, and an unknown key is ignored.

What may hold a phone number the worker typed (the number given, a message kept over a pause or a question) is
stored encrypted (`SEALED`) and read back in clear: the draft JSON never holds a number in clear.
"""
from __future__ import annotations

from typing import Any, Callable

from pydantic import BaseModel

from intake.foundation import encryption


class Figure(BaseModel):
    """A number the worker gave (an amount in yuan, a headcount, months) and whether they said "about"."""

    value: int
    approximate: bool


class Lookup(BaseModel):
    """A status look-up waiting for the phone's last four digits: the ticket, and the state to go back to."""

    ticket: str = ""
    back: str | None = None


class Resume(BaseModel):
    """A draft left for a while: the state it was in and the message that came after the pause."""

    state: str | None = None
    pending: str = ""


class KeptPhoto(BaseModel):
    """A photo the worker sent, kept until the complaint is stored (content in base64)."""

    filename: str
    content_type: str
    source: str | None = None
    content: str


class Pick(BaseModel):
    """A message for one of several open cases, waiting for the worker to say which (state "pick")."""

    tickets: list[str] = []
    text: str = ""
    photos: list[KeptPhoto] = []


class Draft(BaseModel):
    # Where the dialogue stands.
    asking: str | None = None  # the field asked for (state "collecting")
    lookup: Lookup | None = None  # state "last4"
    resume: Resume | None = None  # state "resume"
    pick: Pick | None = None  # state "pick"
    last_ticket: str | None = None  # the complaint just filed (state "idle")
    # The claim as read so far.
    site_id: int | None = None
    county_code: str | None = None
    site_score: float | None = None  # how sure the site match from the text is; None for a scanned or chosen site
    site_choices: list[int] = []  # sites the text fitted equally well, asked between by name
    place: str | None = None  # a site the registry does not know, in the worker's words ("万达广场工地")
    amount: Figure | None = None
    amount_per_person: Figure | None = None
    amount_unknown: bool = False  # the worker cannot say; the department works it out with them
    workers: Figure | None = None
    months: Figure | None = None
    period: str | None = None
    employer: str | None = None
    name: str | None = None
    anonymous: bool = False
    phone: str | None = None
    risk_flags: list[str] = []
    risk_terms: dict[str, list[str]] = {}
    # What the worker sent: every text (up to the configured length) and photo.
    texts: list[str] = []
    truncated: bool = False
    photos: list[KeptPhoto] = []

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Draft:
        """A draft from the stored JSON; its lists and objects are new, so editing it leaves `data` as it was."""
        return cls.model_validate(sealed_mapped(data or {}, encryption.decrypt))

    def to_json(self) -> dict[str, Any]:
        return sealed_mapped(self.model_dump(exclude_unset=True), encryption.encrypt)

    def told(self) -> dict[str, Any]:
        """What the worker has told: everything set but the texts, the question asked and the truncation mark."""
        return self.model_dump(exclude_unset=True, exclude={"texts", "asking", "truncated"})

    def drop(self, name: str) -> None:
        """Take a field out: back to its default, and no longer written."""
        setattr(self, name, type(self).model_fields[name].get_default(call_default_factory=True))
        self.model_fields_set.discard(name)

    def take(self, name: str) -> Any:
        """A field's value, the field taken out (`drop`): what dict.pop was to the plain dict."""
        value = getattr(self, name)
        self.drop(name)
        return value


# Where a draft holds text that may carry a phone number: (the keys of the object, the field).
SEALED = (((), "phone"), (("resume",), "pending"), (("pick",), "text"))


def sealed_mapped(data: dict[str, Any], change: Callable[[str], str]) -> dict[str, Any]:
    """The stored JSON with `change` applied to every sealed text in it (the objects on the way are copies)."""
    data = dict(data)
    for path, name in SEALED:
        model: Any = data
        for key in path:
            if not isinstance(model.get(key), dict):
                model = None
                break
            model[key] = dict(model[key])
            model = model[key]
        if model is not None and model.get(name):
            model[name] = change(model[name])
    return data


def sealed_tokens(data: dict[str, Any] | None) -> list[str]:
    """The ciphertexts in a stored draft (what key rotation looks at)."""
    found: list[str] = []

    def keep(token: str) -> str:
        found.append(token)
        return token

    sealed_mapped(data or {}, keep)
    return found
