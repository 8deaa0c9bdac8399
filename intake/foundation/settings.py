"""Settings: a TOML file, then `QINGLING_<SECTION>_<KEY>` environment overrides.

Every setting has a default here and a commented line in config.example.toml; a test keeps the two in step.
Secrets (secret_key, provider tokens) are only ever read from the environment in production; the file may
carry them for local use.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import re
import secrets
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlparse

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
    scan_write_seconds: int = 10  # QR form opens are counted in the web process and written this often
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
    max_request_pixels: int = 100_000_000
    # Pixels one worker (their phone, or the case they add to) may have decoded in an hour, over all their posts.
    max_worker_pixels_per_hour: int = 300_000_000


@dataclass(frozen=True)
class RateLimitSettings:
    storage_uri: str = "memory://"
    submit_per_address: str = "20 per hour"
    submit_per_phone: str = "5 per day"
    status_per_address: str = "30 per minute"
    login_per_address: str = "10 per minute"
    login_per_username: str = "5 per minute"


@dataclass(frozen=True)
class ConsoleSettings:
    idle_minutes: int = 30
    lifetime_hours: int = 12


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
    # After 办结, each worker who has not answered 工资到手了吗 is asked again every `confirm_reminder_days`
    # working days, `confirm_reminders` times; only then may a supervisor close without their answer.
    confirm_reminder_days: int = 3
    confirm_reminders: int = 2
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
    unsendable_wait_minutes: int = 60
    item_delay_ms: int = 0
    export_keep_hours: int = 24


@dataclass(frozen=True)
class DialogueSettings:
    idle_expiry_minutes: int = 30
    draft_keep_days: int = 7
    hotline: str = "12333"
    max_text_chars: int = 2000


# (category, word) pairs: the words that signal danger, each under the category the router and supervisors see.
RISK_WORDS: tuple[tuple[str, str], ...] = tuple(
    (category, word) for category, words in (
        ("self_harm", "跳楼 自杀 喝药 农药 百草枯 敌敌畏 同归于尽 不想活 活不下去 寻死 上吊 割腕 跳河 跳下去 死给 "
                      "跟他拼了 和他拼了 跟他们拼了 弄死 砍死 杀了他 不活了 拼命"),
        ("mass_incident", "堵路 围堵 拉横幅 横幅 聚集 堵门 堵大门 讨说法 静坐 闹事 围住 堵工地 堵售楼处 堵政府 "
                          "堵县政府 堵区政府 集体去 堵他家"),
        ("petition_media", "上访 信访 进京 去北京 去政府 找政府 去县政府 去市政府 到政府 去区政府 政府门口 曝光 抖音 "
                           "快手 记者 媒体 电视台 发网上 发到网上 网上发 微博 头条"),
    ) for word in words.split())


@dataclass(frozen=True)
class ReadingSettings:
    """Risk words as [category, word] pairs; a county adds its own in extra_risk_words without copying the list."""
    risk_words: tuple[tuple[str, str], ...] = RISK_WORDS
    extra_risk_words: tuple[tuple[str, str], ...] = ()

    def all_risk_words(self) -> tuple[tuple[str, str], ...]:
        return self.risk_words + self.extra_risk_words


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
    media_fetch_private_hosts: bool = False


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
    # Days an inspector's poster check-in keeps its photo and GPS place (intake.privacy.retention).
    check_in_photo_days: int = 180


@dataclass(frozen=True)
class EnforcementSettings:
    # 劳动保障监察条例 (Decree 423) Art. 26: additional compensation of 50 % to 100 % of the amount owed; the officer
    # picks the rate within these bounds.
    compensation_min_percent: int = 50
    compensation_max_percent: int = 100
    # Criminal Law Art. 276-1 with 法释〔2013〕3号 Art. 3: one worker owed for `police_months` months or more at least
    # `police_one_worker_amount` (range 5,000-20,000), or `police_many_workers` workers or more owed at least
    # `police_many_workers_amount` in total (range 30,000-100,000); the province fixes the figures in the ranges.
    police_one_worker_amount: int = 5_000
    police_months: int = 3
    police_many_workers: int = 10
    police_many_workers_amount: int = 30_000
    # 行政执法机关移送涉嫌犯罪案件的规定 (State Council Decree 310) Art. 8: the police sign the transfer's receipt at
    # once and decide within 3 days whether to open a criminal case; past either, the case escalates.
    police_receipt_hours: int = 24
    police_decision_days: int = 3
    # 清出建筑市场: the housing department's reply to the notice is awaited this many days, then escalated.
    clearing_reply_days: int = 15


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
class UnitSettings:
    """Member units' deadlines (intake.case.co_steps, intake.units.tasks): local policy, so configuration."""

    co_step_days: int = 5  # working days a co-handler has for its reply, from the day it is told
    remind_days: int = 1  # working days before a co-handler's, a task's or a rectification item's deadline: reminded

    def __post_init__(self) -> None:
        if self.co_step_days < 1:
            raise SettingsError(f"units.co_step_days must be at least 1, not {self.co_step_days}")
        if not 0 <= self.remind_days < self.co_step_days:
            raise SettingsError(f"units.remind_days must be 0 (no reminder) up to co_step_days - 1, "
                                f"not {self.remind_days}")


@dataclass(frozen=True)
class RankingSettings:
    """The red and yellow lists (红黄榜, intake.units.rankings): each figure's weight in a unit's score (0 leaves it
    out), the fewest cases a unit needs to be ranked, and who goes on which list."""

    weight_ack_rate: int = 20  # 响应率: acknowledged on time
    weight_reply_rate: int = 30  # 按时办结率
    weight_closure_rate: int = 30  # 销号率
    weight_satisfaction_rate: int = 10  # 满意度: the workers' grades, valued as below
    weight_overdue_rate: int = 10  # 超期率 (counted the other way: fewer overdue, more points)
    weight_task_rate: int = 10  # 任务按时率: member-unit tasks due in the month answered on time
    min_cases: int = 3
    red_min_score: int = 85  # the best `list_size` units scoring at least this are on the red list
    yellow_below_score: int = 60  # the worst `list_size` units scoring below this are on the yellow list
    list_size: int = 3
    grade_satisfied: int = 100  # what one 满意 is worth out of 100
    grade_basic: int = 80  # 基本满意
    grade_unsatisfied: int = 0  # 不满意

    @property
    def weights(self) -> dict[str, int]:
        return {f.name.removeprefix("weight_"): getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name.startswith("weight_") and getattr(self, f.name)}

    def __post_init__(self) -> None:
        if any(getattr(self, f.name) < 0 for f in dataclasses.fields(self)) or not self.weights:
            raise SettingsError("rankings: weights must not be negative and at least one must be above 0")
        if not 0 <= self.yellow_below_score <= self.red_min_score <= 100:
            raise SettingsError("rankings: need 0 <= yellow_below_score <= red_min_score <= 100")
        if self.list_size < 1 or self.min_cases < 1:
            raise SettingsError("rankings: list_size and min_cases must be at least 1")
        if not 0 <= self.grade_unsatisfied <= self.grade_basic <= self.grade_satisfied <= 100:
            raise SettingsError("rankings: need 0 <= grade_unsatisfied <= grade_basic <= grade_satisfied <= 100")


@dataclass(frozen=True)
class WarningSettings:
    """Thresholds of the warning indicators (intake.warnings.indicators): local policy, so configuration."""

    roster_update_day: int = 10
    payroll_grace_days: int = 3
    unpaid_months: int = 2
    rectify_days: int = 10
    guarantee_permille: int = 10
    guarantee_cap: int = 0
    baseline_window_days: int = 30
    baseline_days: int = 180
    baseline_min_complaints: int = 3
    baseline_percent: int = 200
    opinion_verify_hours: int = 2
    opinion_report_hours: int = 24
    poster_silent_days: int = 10
    scan_spike_days: int = 2
    scan_baseline_days: int = 30
    scan_spike_min: int = 20
    scan_spike_percent: int = 500
    # Labour costs (人工费用) due in the wage account by this day of each month for the progress payments made up to
    # the month before, as a percent of them per industry (Industry's names); 0 leaves an industry unchecked.
    labour_deposit_day: int = 20
    labour_share_building: int = 20
    labour_share_municipal: int = 15
    labour_share_transport: int = 15
    labour_share_water: int = 15
    labour_share_other: int = 15

    def __post_init__(self) -> None:
        """A wrong value stops the start, not the worker's every pass."""
        if not 1 <= self.labour_deposit_day <= 28:
            raise SettingsError(f"warnings.labour_deposit_day must be 1 to 28 (every month has it), "
                                f"not {self.labour_deposit_day}")
        for f in dataclasses.fields(self):
            if f.name.startswith("labour_share_") and not 0 <= getattr(self, f.name) <= 100:
                raise SettingsError(f"warnings.{f.name} must be a percent from 0 to 100, not {getattr(self, f.name)}")

    def labour_share(self, industry_name: str) -> int:
        """The percent for an industry by its enum name (BUILDING ...); an unknown one counts as OTHER."""
        return getattr(self, f"labour_share_{industry_name.lower()}", self.labour_share_other)


@dataclass(frozen=True)
class Settings:
    secret_key: str = ""
    public_base_url: str = ""
    proxy_hops: int = 0
    web_processes: int = 1
    demo: bool = False
    directory_file: str = ""
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    poster: PosterSettings = field(default_factory=PosterSettings)
    uploads: UploadSettings = field(default_factory=UploadSettings)
    ratelimit: RateLimitSettings = field(default_factory=RateLimitSettings)
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    calendar: CalendarSettings = field(default_factory=CalendarSettings)
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    clocks: ClockSettings = field(default_factory=ClockSettings)
    worker: WorkerSettings = field(default_factory=WorkerSettings)
    dialogue: DialogueSettings = field(default_factory=DialogueSettings)
    reading: ReadingSettings = field(default_factory=ReadingSettings)
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
    units: UnitSettings = field(default_factory=UnitSettings)
    rankings: RankingSettings = field(default_factory=RankingSettings)
    enforcement: EnforcementSettings = field(default_factory=EnforcementSettings)
    warnings: WarningSettings = field(default_factory=WarningSettings)

    def public_url(self, path: str) -> str:
        return self.public_base_url.rstrip("/") + path

    @property
    def rate_limits_per_process(self) -> bool:
        """Several web processes counting alone: each lets through the whole limit (5 guesses a minute become
        5 per process), so outside the demo the limits need a shared storage (Redis)."""
        return not self.demo and self.web_processes > 1 and self.ratelimit.storage_uri.startswith("memory://")


MIN_SECRET_KEY_LENGTH = 32
SECRET_KEY_FILE = "secret_key"


def with_secret_key(settings: Settings, instance_dir: str | os.PathLike) -> Settings:
    """Settings whose secret key is strong: sessions, form tokens and the workers' signed links all rest on it.

    Outside demo mode a missing or short key stops the process (a random per-process key would sign links the
    next process rejects, and an empty one lets anyone forge them); demo mode makes one once and keeps it in the
    instance folder, so links and sessions outlive a restart."""
    if len(settings.secret_key) >= MIN_SECRET_KEY_LENGTH:
        return settings
    if not settings.demo:
        raise SettingsError(
            f"QINGLING_SECRET_KEY is {'too short' if settings.secret_key else 'not set'}: it signs sessions and the "
            f"links sent to workers, and must be at least {MIN_SECRET_KEY_LENGTH} random characters. Make one with "
            "`qingling keys generate` and set it in the environment of every web and worker process.")
    path = Path(instance_dir) / SECRET_KEY_FILE
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{SECRET_KEY_FILE}.{os.getpid()}")
        draft.write_text(secrets.token_urlsafe(48))
        draft.chmod(0o600)
        try:
            os.link(draft, path)  # atomic and never overwrites: a process starting at the same time keeps its key
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return dataclasses.replace(settings, secret_key=path.read_text().strip())


def printable_base_url(url: str) -> tuple[str | None, str | None]:
    """(refusal, warning) for the address printed in QR codes and posters, in Chinese for the operator.

    A poster is read by phones on the street: a relative path opens nothing, and a loopback or private address
    opens only on the office network.
    """
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return ("未设置公网地址：请用 QINGLING_PUBLIC_BASE_URL 给出工人手机能打开的完整网址，"
                "例如 https://qingling.example.cn", None)
    host = parsed.hostname
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        local = host == "localhost" or host.endswith(".local")
    else:
        local = address.is_loopback or address.is_private or address.is_link_local
    if local:
        return None, f"注意：{url} 是本机或内网地址，只有同一网络里的手机能打开二维码"
    return None, None


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
