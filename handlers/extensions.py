"""Flask extensions, created unbound so blueprints can decorate with them before the app exists."""
from flask import request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf import CSRFProtect

csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)


def submitted_phone() -> str:
    """Rate-limit key for form posts: the phone number typed, so one number cannot flood from many addresses."""
    from intake.validation import normalise_phone

    return "phone:" + (normalise_phone(request.form.get("phone", "")) or "none")
