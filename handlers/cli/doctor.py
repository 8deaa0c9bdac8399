"""`qingling doctor`: checks a deployment and says plainly what is wrong and what to do."""
from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass
from datetime import date, timedelta
from email.utils import parseaddr
from typing import Callable
from urllib.parse import urlparse

import click
from flask.cli import with_appcontext
from sqlalchemy import Text, func, select, text, type_coerce

from intake.delivery.outbox import CONTACT_SCHEMES
from intake.delivery.sms_templates import Templates
from intake.foundation.calendar import WorkingCalendar
from intake.foundation.encryption import DataKeyError, decrypt
from intake.foundation.models import Complainant, Jurisdiction
from intake.foundation.settings import MIN_SECRET_KEY_LENGTH, Settings
from intake.registry.directory import HRSS, industry_department_kinds, without_phone
from migrations import current_revision, head_revision
from qr.fonts import find_cjk_font

from ..channels.email import valid_address
from ..channels.webhook import LOCAL_HOSTS
from ..runtime import Services, services
from .worker import senders_for

CALENDAR_LOOKAHEAD = timedelta(days=120)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    warning: bool = False  # works, but something people will notice is missing


def check_database(svc: Services) -> Check:
    try:
        with svc.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means the same thing to an operator
        return Check("数据库", False, f"无法连接 {svc.engine.url.render_as_string()}：{exc.__class__.__name__}: {exc}")
    return Check("数据库", True, f"已连接 {svc.engine.url.render_as_string()}")


def check_migrations(svc: Services) -> Check:
    try:
        current, head = current_revision(svc.engine), head_revision()
    except Exception as exc:
        return Check("数据库结构", False, f"无法读取版本：{exc}")
    if current != head:
        return Check("数据库结构", False, f"当前版本 {current or '空'}，最新 {head}：请运行 qingling db upgrade")
    return Check("数据库结构", True, f"已是最新（{head}）")


def check_directory(svc: Services) -> Check:
    try:
        with svc.sessions() as session:
            count = session.scalar(select(func.count()).select_from(Jurisdiction))
    except Exception as exc:
        return Check("部门目录", False, f"无法读取：{exc}")
    if not count:
        return Check("部门目录", False, "还没有导入区县和部门：请运行 qingling directory load")
    return Check("部门目录", True, f"{count} 个区划")


def check_county_phones(svc: Services) -> Check:
    """Art. 34 posters show each county's industry departments' and labour inspection's complaint phones; where the
    directory has none the poster prints a blank to write in, which staff should know before printing."""
    kinds = {HRSS, *industry_department_kinds(svc.settings.directory_file or None).values()}
    try:
        with svc.sessions() as session:
            missing = [d.name if d.name.startswith(d.jurisdiction.name) else f"{d.jurisdiction.name}{d.name}"
                       for d in without_phone(session, kinds)]
    except Exception as exc:
        return Check("告示牌投诉电话", False, f"无法读取部门目录：{exc}")
    if not missing:
        return Check("告示牌投诉电话", True, "每个区县的行业主管部门和劳动保障监察都有投诉电话")
    shown = "、".join(missing[:8]) + (f" 等 {len(missing)} 个部门" if len(missing) > 8 else "")
    return Check("告示牌投诉电话", True, f"没有配置投诉电话：{shown}。这些区县的维权信息告示牌上电话一栏留空（可手写）；"
                                     "请在部门目录文件中补上 phone，再运行 qingling directory load", warning=True)


def check_public_base_url(settings: Settings) -> Check:
    url = urlparse(settings.public_base_url)
    if url.scheme not in ("http", "https") or not url.netloc:
        return Check("公网地址", False, "未设置 QINGLING_PUBLIC_BASE_URL（二维码和海报里的网址），例如 https://qingling.example.cn")
    if url.scheme != "https" and not settings.demo:
        return Check("公网地址", False, f"{settings.public_base_url} 不是 https：微信内打开和表单提交需要 https")
    return Check("公网地址", True, settings.public_base_url)


def check_demo(settings: Settings) -> Check:
    """Demo mode shows a chat page where anyone can speak as any phone number: never where real workers are."""
    if not settings.demo:
        return Check("演示模式", True, "关闭")
    host = urlparse(settings.public_base_url).hostname or ""
    if host not in ("127.0.0.1", "localhost", "::1") or settings.database.url.startswith("postgresql"):
        return Check("演示模式", False, "演示模式已开启，但地址或数据库像是正式环境：请设置 QINGLING_DEMO=false")
    return Check("演示模式", True, "开启（仅限本机演示）")


def check_secret_key(settings: Settings) -> Check:
    if len(settings.secret_key) < MIN_SECRET_KEY_LENGTH:
        return Check("密钥", False, f"未设置 QINGLING_SECRET_KEY（至少 {MIN_SECRET_KEY_LENGTH} 个随机字符，可用 qingling keys "
                                    "generate 生成）：会话和发给工人的链接都靠它签名")
    return Check("密钥", True, "已设置")


def check_data_key(svc: Services) -> Check:
    """Without its own key the workers' numbers are only as secret as secret_key (or this source code); and a
    key that does not open what is stored must be found here, not at the first case page."""
    privacy = svc.settings.privacy
    if not privacy.data_key and not svc.settings.demo:
        return Check("数据密钥", False, "未设置 QINGLING_PRIVACY_DATA_KEY：手机号和身份证号用派生的临时密钥加密。"
                                        "请用 qingling keys generate 生成并妥善备份（丢失后这些号码无法恢复）")
    try:
        with svc.engine.connect() as conn:
            sample = conn.scalar(select(type_coerce(Complainant.phone, Text)).where(Complainant.phone.is_not(None))
                                 .order_by(Complainant.id.desc()).limit(1))
    except Exception as exc:
        return Check("数据密钥", False, f"无法读取：{exc}")
    if sample is not None:
        try:
            decrypt(sample)
        except DataKeyError:
            return Check("数据密钥", False, "已存的手机号无法用当前配置的密钥解密：QINGLING_PRIVACY_DATA_KEY 不对，"
                                            "或轮换时旧密钥没有放进 QINGLING_PRIVACY_PREVIOUS_DATA_KEYS")
    if not privacy.data_key:
        return Check("数据密钥", True, "演示：由 secret_key 派生" if svc.settings.secret_key else "演示：由开发用常量派生，任何人都能解密")
    if privacy.previous_data_keys:
        return Check("数据密钥", True, f"已设置，另有 {len(privacy.previous_data_keys)} 个旧密钥：运行 qingling keys "
                                       "rotate 完成后从 QINGLING_PRIVACY_PREVIOUS_DATA_KEYS 移除")
    return Check("数据密钥", True, "已设置")


def check_font(settings: Settings) -> Check:
    path = find_cjk_font(settings.poster.font_path or None)
    if path is None:
        return Check("中文字体", False, "找不到中文字体：安装 fonts-wqy-microhei，或在 [poster] font_path 指定字体文件")
    return Check("中文字体", True, path)


def check_calendar(settings: Settings, today: date | None = None) -> Check:
    """Fails when a clock may soon run into a year whose holidays nobody has published or configured."""
    today = today or date.today()
    try:
        WorkingCalendar.from_config(dataclasses.asdict(settings.calendar))
    except ValueError as exc:
        return Check("工作日历", False, f"[calendar] 配置有误：{exc}")
    configured = {date.fromisoformat(d).year for d in settings.calendar.holidays}
    unknown = [y for y in WorkingCalendar.horizon_years(today, today + CALENDAR_LOOKAHEAD) if y not in configured]
    if unknown:
        years = "、".join(str(y) for y in unknown)
        return Check("工作日历", False, f"{years} 年的节假日和调休安排未知，期限按法定假日估算：请在 [calendar] holidays / workdays 中配置国务院公布的安排")
    return Check("工作日历", True, "未来四个月的节假日安排已知")


def check_wechat(settings: Settings) -> Check:
    """On or off, never half-on: a token without credentials answers messages but can send nothing."""
    w = settings.wechat
    needed = {"QINGLING_WECHAT_TOKEN": w.token, "QINGLING_WECHAT_APP_ID": w.app_id,
              "QINGLING_WECHAT_APP_SECRET": w.app_secret}
    if not any(needed.values()) and not w.encoding_aes_key:
        return Check("微信公众号", True, "未启用")
    missing = [name for name, value in needed.items() if not value]
    if missing:
        return Check("微信公众号", False, f"只配置了一部分：还需设置 {'、'.join(missing)}，或全部留空关闭")
    if w.encoding_aes_key and len(w.encoding_aes_key) != 43:
        return Check("微信公众号", False, "QINGLING_WECHAT_ENCODING_AES_KEY 应为 43 个字符（公众号后台的 EncodingAESKey）")
    mode = "安全模式可用" if w.encoding_aes_key else "仅明文模式（未设置 EncodingAESKey）"
    return Check("微信公众号", True, f"已启用，{mode}，服务器地址 {settings.public_url('/wechat')}")


def check_sms(settings: Settings) -> Check:
    """On or off, never half-on. Twilio has no two-way SMS with +86 numbers; the mainland gateways do."""
    if settings.sms.provider in MAINLAND_SMS:
        return check_mainland_sms(settings)
    if settings.sms.provider != "twilio":
        known = "、".join(f'"{name}"' for name in ("twilio", *MAINLAND_SMS))
        return Check("短信", False, f"[sms] provider 不认识：{settings.sms.provider!r}，可用的有 {known}")
    t = settings.twilio
    needed = {"QINGLING_TWILIO_ACCOUNT_SID": t.account_sid, "QINGLING_TWILIO_AUTH_TOKEN": t.auth_token,
              "QINGLING_TWILIO_FROM_NUMBER": t.from_number}
    missing = [name for name, value in needed.items() if not value]
    if len(missing) == len(needed):
        return Check("短信", True, "未启用")
    if missing:
        return Check("短信", False, f"Twilio 只配置了一部分：还需设置 {'、'.join(missing)}，或全部留空关闭")
    return Check("短信", True, f"Twilio 已启用（{t.from_number}），回调地址 {settings.public_url('/sms/twilio')}")


# A mainland gateway's name as the console calls it, and the settings it needs, by environment variable.
MAINLAND_SMS: dict[str, tuple[str, Callable[[Settings], dict[str, str]]]] = {
    "aliyun": ("阿里云短信", lambda s: {
        "QINGLING_ALIYUN_ACCESS_KEY_ID": s.aliyun.access_key_id,
        "QINGLING_ALIYUN_ACCESS_KEY_SECRET": s.aliyun.access_key_secret,
        "QINGLING_ALIYUN_SIGN_NAME": s.aliyun.sign_name}),
    "tencent": ("腾讯云短信", lambda s: {
        "QINGLING_TENCENT_SECRET_ID": s.tencent.secret_id, "QINGLING_TENCENT_SECRET_KEY": s.tencent.secret_key,
        "QINGLING_TENCENT_SDK_APP_ID": s.tencent.sdk_app_id, "QINGLING_TENCENT_SIGN_NAME": s.tencent.sign_name}),
}
# The smallest template worth splitting a text over: a (1/9) marker and a few words.
MIN_TEMPLATE_CHARS = 10


def check_mainland_sms(settings: Settings) -> Check:
    """Credentials, a callback secret nobody guesses, and a template for the chat's replies and every notice,
    since a text without one is dead-lettered instead of sent."""
    sms = settings.sms
    label, needed_of = MAINLAND_SMS[sms.provider]
    needed = {**needed_of(settings), "QINGLING_SMS_CALLBACK_SECRET": sms.callback_secret}
    missing = [name for name, value in needed.items() if not value]
    if missing:
        return Check("短信", False, f"{label}还需设置 {'、'.join(missing)}")
    if len(sms.callback_secret) < 16:
        return Check("短信", False, "QINGLING_SMS_CALLBACK_SECRET 太短（至少 16 个字符），回调地址容易被猜到")
    try:
        [ipaddress.ip_network(net, strict=False) for net in sms.callback_allowed_ips]
    except ValueError as exc:
        return Check("短信", False, f"[sms] callback_allowed_ips 有误：{exc}")
    templates = Templates.from_settings(sms)
    if templates.capacity < MIN_TEMPLATE_CHARS:
        return Check("短信", False, f"模板太小：[sms] template_variables 与 variable_max_chars 至少容纳 {MIN_TEMPLATE_CHARS} 个字")
    uncovered = templates.missing()
    if uncovered:
        return Check("短信", False, f"[sms] templates 缺少模板：{'、'.join(uncovered)}（配置 \"reply\" 和 \"notice\" 即可覆盖全部）")
    base = settings.public_url(f"/sms/{sms.provider}/<QINGLING_SMS_CALLBACK_SECRET>")
    return Check("短信", True, f"{label}已启用，上行回调地址 {base}，回执地址 {base}/report")


def check_email(settings: Settings) -> Check:
    """On or off, never half-on: without a sender address, or with half a login, no e-mail goes out."""
    e = settings.email
    if not (e.host or e.from_address or e.username or e.password):
        return Check("邮件通知", True, "未启用")
    needed = {"QINGLING_EMAIL_HOST": e.host, "QINGLING_EMAIL_FROM_ADDRESS": e.from_address}
    if e.username or e.password:
        needed |= {"QINGLING_EMAIL_USERNAME": e.username, "QINGLING_EMAIL_PASSWORD": e.password}
    missing = [name for name, value in needed.items() if not value]
    if missing:
        return Check("邮件通知", False, f"只配置了一部分：还需设置 {'、'.join(missing)}，或全部留空关闭")
    if not valid_address(parseaddr(e.from_address)[1]):
        return Check("邮件通知", False, f"发件地址 {e.from_address!r} 无效，应为 noreply@example.cn 或 名称 <noreply@example.cn>")
    if e.timeout_seconds <= 0:
        return Check("邮件通知", False, "[email] timeout_seconds 必须大于 0")
    if e.username and not (e.ssl or e.starttls) and e.host not in LOCAL_HOSTS:
        return Check("邮件通知", False, "密码会明文发往邮件服务器：请开启 [email] starttls 或 ssl")
    security = "SSL" if e.ssl else "STARTTLS" if e.starttls else "不加密"
    return Check("邮件通知", True, f"已启用，{e.host}:{e.port}（{security}），发件人 {e.from_address}")


def check_webhook(settings: Settings) -> Check:
    """A short shared secret would let anyone forge case notices to departments' systems."""
    w = settings.webhook
    if not w.secret:
        return Check("Webhook 通知", True, "未启用")
    if len(w.secret) < 16:
        return Check("Webhook 通知", False, "QINGLING_WEBHOOK_SECRET 太短（至少 16 个字符），签名容易被伪造")
    if w.timeout_seconds <= 0:
        return Check("Webhook 通知", False, "[webhook] timeout_seconds 必须大于 0")
    return Check("Webhook 通知", True, "已启用，请求体以 HMAC-SHA256 签名（X-Qingling-Signature）")


def check_channels(settings: Settings) -> Check:
    """Which ways of sending are off, and what happens to a notice for one (the worker's own rule, said here)."""
    off = [name for name in CONTACT_SCHEMES if name not in senders_for(settings)]
    if not off:
        return Check("通知渠道", True, "全部已启用")
    wait = settings.worker.unsendable_wait_minutes
    return Check("通知渠道", True, f"未启用：{'、'.join(off)}。发往这些渠道的通知等待 {wait} 分钟，之后改用备用方式，"
                                 "没有备用方式时提醒派单中心人工联系")


def check_rate_limits(settings: Settings) -> Check:
    if settings.rate_limits_per_process:
        return Check("频率限制", False, f"web_processes = {settings.web_processes}，但 [ratelimit] storage_uri 是 memory://："
                                       "每个进程各算各的，限制形同放宽。请设置 QINGLING_RATELIMIT_STORAGE_URI=redis://...")
    where = "进程内（单进程）" if settings.ratelimit.storage_uri.startswith("memory://") else "共享存储"
    return Check("频率限制", True, f"计数在{where}")


def run_checks(svc: Services) -> list[Check]:
    settings = svc.settings
    checks: list[Callable[[], Check]] = [
        lambda: check_database(svc),
        lambda: check_migrations(svc),
        lambda: check_directory(svc),
        lambda: check_county_phones(svc),
        lambda: check_public_base_url(settings),
        lambda: check_demo(settings),
        lambda: check_secret_key(settings),
        lambda: check_data_key(svc),
        lambda: check_font(settings),
        lambda: check_calendar(settings),
        lambda: check_wechat(settings),
        lambda: check_sms(settings),
        lambda: check_email(settings),
        lambda: check_webhook(settings),
        lambda: check_channels(settings),
        lambda: check_rate_limits(settings),
    ]
    return [c() for c in checks]


@click.command("doctor", help="Check this deployment and say what is wrong.")
@with_appcontext
def doctor() -> None:
    results = run_checks(services())
    for check in results:
        click.echo(f"{'✗' if not check.ok else '!' if check.warning else '✓'} {check.name}：{check.detail}")
    failed = [c for c in results if not c.ok]
    if failed:
        raise click.ClickException(f"{len(failed)} 项检查未通过")
    click.echo("全部检查通过。")
