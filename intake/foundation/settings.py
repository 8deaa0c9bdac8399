"""Settings: a TOML file, then `QINGLING_<SECTION>_<KEY>` environment overrides.

Every setting has a default here and a commented line in config.example.toml; a test keeps the two in step.
Secrets (secret_key, provider tokens) are only ever read from the environment in production; the file may
carry them for local use.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

ENV_PREFIX = "QINGLING_"
# Settings a file may not set to anything but their empty default: they are read from the environment only.
ENV_ONLY = {("privacy", "data_key"), ("privacy", "previous_data_keys")}


class SettingsError(ValueError):
    """A setting is unknown or has a value of the wrong type."""


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = "sqlite:///qingling.db"
    echo: bool = False


@dataclass(frozen=True)
class PosterSettings:
    font_path: str = ""
    qr_target: str = "form"
    hotlines: tuple[tuple[str, str], ...] = (
        ("政务服务便民热线", "12345"),
        ("劳动保障监察投诉", "12333"),
        ("公共法律服务热线", "12348"),
    )


@dataclass(frozen=True)
class UploadSettings:
    max_photos: int = 6
    max_photo_bytes: int = 8 * 1024 * 1024
    max_request_bytes: int = 52 * 1024 * 1024


@dataclass(frozen=True)
class RateLimitSettings:
    storage_uri: str = "memory://"
    submit_per_address: str = "20 per hour"
    submit_per_phone: str = "5 per day"
    status_per_address: str = "30 per minute"
    login_per_address: str = "10 per minute"
    login_per_username: str = "5 per minute"


@dataclass(frozen=True)
class CalendarSettings:
    timezone: str = "Asia/Shanghai"
    working_hours: tuple[str, ...] = ("08:30-12:00", "13:30-17:30")
    holidays: tuple[str, ...] = ()
    workdays: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClockSettings:
    acknowledge: tuple[tuple[str, str], ...] = (("urgent", "30m"), ("high", "1wh"), ("normal", "2wh"))
    contact: tuple[tuple[str, str], ...] = (("urgent", "2h"), ("high", "1wd"), ("normal", "1wd"))
    accept: tuple[tuple[str, str], ...] = (("urgent", "5wd"), ("high", "5wd"), ("normal", "5wd"))
    reply: tuple[tuple[str, str], ...] = (("urgent", "5wd"), ("high", "5wd"), ("normal", "5wd"))
    investigate: tuple[tuple[str, str], ...] = (("urgent", "60wd"), ("high", "60wd"), ("normal", "60wd"))
    follow_up: tuple[tuple[str, str], ...] = (("urgent", "1wd"), ("high", "3wd"), ("normal", "3wd"))
    reply_extension_max_days: int = 10
    investigate_extension_max_days: int = 30
    return_within_days: int = 2
    warning_percent: int = 75
    escalation: tuple[tuple[str, str], ...] = (("department", "0wd"), ("county", "1wd"), ("city", "2wd"))
    county_supervisor_kind: str = "hrss"
    city_supervisor_kind: str = "leading_group_office"
    round_the_clock: tuple[str, ...] = ("urgent",)


@dataclass(frozen=True)
class WorkerSettings:
    idle_seconds: int = 5
    batch_size: int = 200
    max_attempts: int = 8
    backoff_base_seconds: int = 30
    backoff_max_seconds: int = 3600
    item_delay_ms: int = 0


@dataclass(frozen=True)
class DialogueSettings:
    idle_expiry_minutes: int = 30
    draft_keep_days: int = 7
    hotline: str = "12333"
    max_text_chars: int = 2000


@dataclass(frozen=True)
class WeChatSettings:
    app_id: str = ""
    app_secret: str = ""
    token: str = ""
    encoding_aes_key: str = ""
    template_id: str = ""


@dataclass(frozen=True)
class SmsSettings:
    provider: str = "twilio"
    # Mainland gateways (aliyun, tencent) send approved templates only, and push uplinks to callbacks.
    templates: tuple[tuple[str, str], ...] = ()
    template_variables: tuple[str, ...] = ("content",)
    variable_max_chars: int = 35
    callback_secret: str = ""
    callback_allowed_ips: tuple[str, ...] = ()


@dataclass(frozen=True)
class TwilioSettings:
    account_sid: str = ""
    auth_token: str = ""
    from_number: str = ""


@dataclass(frozen=True)
class AliyunSettings:
    access_key_id: str = ""
    access_key_secret: str = ""
    sign_name: str = ""
    endpoint: str = "https://dysmsapi.aliyuncs.com"


@dataclass(frozen=True)
class TencentSettings:
    secret_id: str = ""
    secret_key: str = ""
    sdk_app_id: str = ""
    sign_name: str = ""
    region: str = "ap-guangzhou"
    endpoint: str = "https://sms.tencentcloudapi.com"


@dataclass(frozen=True)
class EmailSettings:
    host: str = ""
    port: int = 587
    username: str = ""
    password: str = ""
    from_address: str = ""
    starttls: bool = True
    ssl: bool = False
    timeout_seconds: int = 10


@dataclass(frozen=True)
class WebhookSettings:
    secret: str = ""
    timeout_seconds: int = 10


@dataclass(frozen=True)
class ApiSettings:
    rate_limit: str = "120 per minute"
    max_body_bytes: int = 64 * 1024


@dataclass(frozen=True)
class RoutingSettings:
    collective_workers: int = 10
    collective_window_days: int = 30
    urgent_flags: tuple[str, ...] = ("self_harm", "mass_incident")
    high_flags: tuple[str, ...] = ("petition_media",)
    high_workers: int = 10
    high_amount: int = 100_000
    high_investments: tuple[str, ...] = ("government", "soe")
    major_workers: int = 100
    major_amount: int = 1_000_000
    major_flags: tuple[str, ...] = ("self_harm", "mass_incident")
    supervisor_kind: str = "hrss"


@dataclass(frozen=True)
class PrivacySettings:
    data_key: str = ""
    previous_data_keys: tuple[str, ...] = ()
    retention_years: int = 3
    batch_size: int = 500


@dataclass(frozen=True)
class TargetSettings:
    gov_soe_clear_by: str = "2027-01-31"
    all_clear_by: str = "2027-02-05"
    forecast_days: int = 14
    digest_at: str = ""  # off unless configured; Linyi sends it at "08:30"

    def __post_init__(self) -> None:
        """A wrong value stops the start, not the worker's every pass."""
        if self.forecast_days < 1:
            raise SettingsError(f"targets.forecast_days must be at least 1, not {self.forecast_days}")
        if self.digest_at and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", self.digest_at):
            raise SettingsError(f"targets.digest_at must be HH:MM (or empty: off), not {self.digest_at!r}")


@dataclass(frozen=True)
class Settings:
    secret_key: str = ""
    public_base_url: str = ""
    proxy_hops: int = 0
    demo: bool = False
    directory_file: str = ""
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    poster: PosterSettings = field(default_factory=PosterSettings)
    uploads: UploadSettings = field(default_factory=UploadSettings)
    ratelimit: RateLimitSettings = field(default_factory=RateLimitSettings)
    calendar: CalendarSettings = field(default_factory=CalendarSettings)
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    clocks: ClockSettings = field(default_factory=ClockSettings)
    worker: WorkerSettings = field(default_factory=WorkerSettings)
    dialogue: DialogueSettings = field(default_factory=DialogueSettings)
    wechat: WeChatSettings = field(default_factory=WeChatSettings)
    sms: SmsSettings = field(default_factory=SmsSettings)
    twilio: TwilioSettings = field(default_factory=TwilioSettings)
    aliyun: AliyunSettings = field(default_factory=AliyunSettings)
    tencent: TencentSettings = field(default_factory=TencentSettings)
    email: EmailSettings = field(default_factory=EmailSettings)
    webhook: WebhookSettings = field(default_factory=WebhookSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    targets: TargetSettings = field(default_factory=TargetSettings)

    def public_url(self, path: str) -> str:
        return self.public_base_url.rstrip("/") + path


def load_settings(path: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the TOML file named by `path` or QINGLING_CONFIG (a missing default file is fine), then the env."""
    environ = os.environ if environ is None else environ
    explicit = path is not None or "QINGLING_CONFIG" in environ
    config_path = Path(path if path is not None else environ.get("QINGLING_CONFIG", "config.toml"))
    data: dict[str, Any] = {}
    if config_path.is_file():
        try:
            data = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{config_path}: {exc}") from exc
    elif explicit:
        raise SettingsError(f"configuration file {config_path} does not exist")
    return _build(Settings, data, environ, section=None)


def _build(cls: type, data: Mapping[str, Any], environ: Mapping[str, str], section: str | None):
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - known
    if unknown:
        where = f"[{section}]" if section else "top level"
        raise SettingsError(f"unknown setting(s) at {where}: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            sub = data.get(f.name, {})
            if not isinstance(sub, Mapping):
                raise SettingsError(f"[{f.name}] must be a table")
            values[f.name] = _build(kind, sub, environ, section=f.name)
            continue
        name = f"{section}.{f.name}" if section else f.name
        env_name = ENV_PREFIX + (f"{section}_{f.name}" if section else f.name).upper()
        if env_name in environ:
            values[f.name] = _coerce(env_name, kind, environ[env_name], from_env=True)
        elif f.name in data:
            values[f.name] = _coerce(name, kind, data[f.name], from_env=False)
            if (section, f.name) in ENV_ONLY and values[f.name]:
                raise SettingsError(f"{name} may only be set in the environment ({env_name}), not in a file")
    return cls(**values)


def env_names() -> list[str]:
    """Every environment variable that overrides a setting, for docs and `doctor`."""
    names = []
    hints = typing.get_type_hints(Settings)
    for f in dataclasses.fields(Settings):
        if dataclasses.is_dataclass(hints[f.name]):
            names += [f"{ENV_PREFIX}{f.name}_{sf.name}".upper() for sf in dataclasses.fields(hints[f.name])]
        else:
            names.append(f"{ENV_PREFIX}{f.name}".upper())
    return names


def _coerce(name: str, kind: Any, raw: Any, from_env: bool) -> Any:
    """A setting's value as its declared type; the environment gives strings (booleans as words, lists as JSON)."""
    if kind is bool:
        return _coerce_bool(name, raw, from_env)
    if kind is int:
        if isinstance(raw, bool):
            raise SettingsError(f"{name} must be a whole number, not {raw!r}")
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
    if kind is str:
        if not isinstance(raw, str):
            raise SettingsError(f"{name} must be a string, not {raw!r}")
        return raw
    if typing.get_origin(kind) is tuple:
        return _coerce_list(name, typing.get_args(kind)[0], raw, from_env)
    raise SettingsError(f"{name}: unsupported setting type {kind!r}")


def _coerce_bool(name: str, raw: Any, from_env: bool) -> bool:
    if isinstance(raw, bool):
        return raw
    if from_env and raw.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if from_env and raw.strip().lower() in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}")


def _coerce_list(name: str, item: Any, raw: Any, from_env: bool) -> tuple:
    if from_env:
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise SettingsError(f"{name} from the environment must be a JSON list, not {raw!r}") from None
    if not isinstance(raw, list | tuple):
        raise SettingsError(f"{name} must be a list, not {raw!r}")
    if typing.get_origin(item) is tuple:
        if not all(isinstance(x, list | tuple) and len(x) == 2 and all(isinstance(y, str) for y in x) for x in raw):
            raise SettingsError(f"{name} must be a list of [label, value] string pairs")
        return tuple(tuple(x) for x in raw)
    if not all(isinstance(x, str) for x in raw):
        raise SettingsError(f"{name} must be a list of strings")
    return tuple(raw)
