"""Flask extensions, created unbound so blueprints can decorate with them before the app exists."""
import ipaddress

from flask import request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf import CSRFProtect
from limits import RateLimitItemPerHour


def client_network() -> str:
    """Rate-limit key: the client's address, or its /64 for IPv6, which one phone or home gets whole."""
    address = get_remote_address()
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    return str(ipaddress.ip_network(f"{ip}/64", strict=False)) if ip.version == 6 else address


csrf = CSRFProtect()
limiter = Limiter(key_func=client_network)
login_manager = LoginManager()
login_manager.session_protection = "strong"  # a session cookie used from another address or browser is dropped
login_manager.login_view = "console.login"
login_manager.login_message = "请先登录"

PROVIDER_WEBHOOKS: set[str] = set()  # blueprint names, filled by create_app


@limiter.request_filter
def _provider_webhook() -> bool:
    """Providers sign their webhooks and send from a few addresses of their own, so no per-address limit applies:
    filtered here, before Flask-Limiter looks for any limit (its `exempt` is checked only after, at a sixth of a
    chat turn's Python calls)."""
    return request.blueprint in PROVIDER_WEBHOOKS


def spend_pixels(worker: str, pixels: int, per_hour: int) -> bool:
    """Take `pixels` from the worker's hourly budget of decoded photo pixels, kept in the rate limits' storage (so
    every web process counts together); False, taking nothing, when they would go over it."""
    budget = RateLimitItemPerHour(per_hour)
    return limiter.limiter.test(budget, "pixels", worker, cost=pixels) and \
        limiter.limiter.hit(budget, "pixels", worker, cost=pixels)


def submitted_phone() -> str:
    """Rate-limit key for form posts: the phone number typed, so one number cannot flood from many addresses."""
    from intake.foundation.validation import normalise_phone

    return "phone:" + (normalise_phone(request.form.get("phone", "")) or "none")
