"""The worker's forms: what was typed becomes checked values, and every complaint is explained in plain Chinese.

What the worker typed is shown again unchanged when something is wrong, so nothing has to be typed twice.
"""
from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import Callable

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, MultipleFileField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Regexp, StopValidation, ValidationError

from intake.case.complaints import NewComplaint
from intake.foundation.encryption import identity
from intake.foundation.models import Channel, Jurisdiction, Satisfaction
from intake.foundation.settings import UploadSettings
from intake.foundation.validation import clean_text, normalise_digits, normalise_id_number, normalise_phone
from intake.reading.photos import EvidenceError, Photo, check_photos

from .extensions import client_network, spend_pixels

FREE_TEXT_MAX = 2000
NOT_FOUND = "没有找到这个编号，请检查受理编号和手机号后四位"


class Required(InputRequired):
    """Like the browser's own `required` (the flag is kept, so phones check before uploading), but blank text
    counts as missing and the message is ours."""

    def __call__(self, form, field):
        if not (field.raw_data and str(field.raw_data[0]).strip()):
            field.errors[:] = []
            raise StopValidation(self.message)


class ParsedField(StringField):
    """A text box read into a value by `parse` (None means it cannot be read); blank gives None."""

    def __init__(self, label: str, parse: Callable[[str], object | None], invalid: str, **kwargs):
        super().__init__(label, **kwargs)
        self.parse = parse
        self.invalid = invalid

    def process_formdata(self, valuelist):
        typed = valuelist[0].strip() if valuelist else ""
        self.data = self.parse(typed) if typed else None
        if typed and self.data is None:
            raise ValueError(self.invalid)

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else str(self.data)


def whole_number(low: int, high: int) -> Callable[[str], int | None]:
    """Digits as people type them: full-width, with 元 / 个 / 人 / 月 and thousands commas; 3.5万 too."""

    def parse(text: str) -> int | None:
        if re.match(r"[-－−﹣‐‑]", text.strip()):
            raise ValueError("请填正数，不要带负号")  # the digit cleaner would drop the sign and store -5 as 5
        match = re.fullmatch(r"(\d+(?:\.\d+)?)(万?)", re.sub(r"[,元块个人名月]", "", normalise_digits(text)))
        if not match:
            return None
        number = Decimal(match.group(1)) * (10_000 if match.group(2) else 1)
        return int(number) if number == number.to_integral_value() and low <= number <= high else None

    return parse


class ComplaintForm(FlaskForm):
    """The one-page complaint form of a site's QR code; the site itself comes from the link."""

    name = StringField("您的姓名", filters=[clean_text], validators=[Length(max=100, message="姓名太长了")],
                       render_kw={"maxlength": 100})
    phone = ParsedField("手机号", normalise_phone, "手机号不对，请填 11 位手机号",
                        validators=[Required("请填写手机号，部门要用它联系您")],
                        render_kw={"inputmode": "tel", "autocomplete": "tel", "maxlength": 20})
    id_number = ParsedField("身份证号（可以不填）", normalise_id_number, "身份证号不对，请检查一下，或者不填",
                            render_kw={"autocomplete": "off", "maxlength": 24})
    workers = ParsedField("被欠工资的有几个人", whole_number(1, 100_000), "人数请填一个数字，比如 1 或 8",
                          default=1, render_kw={"inputmode": "numeric"})
    amount = ParsedField("一共欠了多少钱（元）", whole_number(1, 10_000_000_000),
                         "钱数请只填数字，比如 35000", render_kw={"inputmode": "decimal", "placeholder": "比如 35000"})
    months = ParsedField("欠了几个月", whole_number(1, 600), "月数请填一个数字，比如 3",
                         render_kw={"inputmode": "numeric", "placeholder": "比如 3"})
    free_text = TextAreaField("发生了什么事", filters=[clean_text], validators=[
        Required("请写一下发生了什么事"),
        Length(max=FREE_TEXT_MAX, message=f"最多写 {FREE_TEXT_MAX} 个字，请删减一些")],
        render_kw={"rows": 6, "placeholder": "比如：在哪干活、干了多久、谁欠的钱、怎么说的"})
    anonymous = BooleanField("匿名反映：不向用人单位透露您的身份")
    photos = MultipleFileField("证据照片（欠条、考勤、聊天截图，可以不传）",
                               render_kw={"accept": "image/jpeg,image/png"})
    keep_location = BooleanField("保留照片里的位置信息（可以帮助核实工地位置）")
    consent = BooleanField("我确认以上内容属实，同意相关部门依法使用这些信息处理我的问题",
                           validators=[Required("请勾选确认后再提交")])
    submission_key = HiddenField(validators=[Regexp(r"^[0-9a-f]{32}$", message="页面已过期，请再点一次提交")])

    def __init__(self, uploads: UploadSettings, **kwargs):
        super().__init__(**kwargs)
        self.uploads = uploads
        self.checked_photos: list[Photo] = []
        if not self.is_submitted():
            self.submission_key.data = uuid.uuid4().hex

    def validate(self, extra_validators=None) -> bool:
        """A post without a proper key gets a fresh one, so the next tap can be stored (and deduplicated)."""
        valid = super().validate(extra_validators)
        if self.submission_key.errors:
            self.submission_key.data = uuid.uuid4().hex
        return valid

    def validate_name(self, field):
        if not self.anonymous.data and not (field.data or "").strip():
            raise ValidationError("请填写姓名，或者勾选下面的“匿名反映”")

    def validate_photos(self, field):
        phone = normalise_phone(self.phone.raw_data[0] if self.phone.raw_data else "")
        self.checked_photos = _checked_photos(field, self.uploads, self.keep_location.data,
                                              photo_sender(phone, f"address:{client_network()}"))

    def chosen_photos(self) -> list:
        return _chosen(self.photos)

    def new_complaint(self, **where) -> NewComplaint:
        """The checked values for intake.case.complaints.create_complaint; `where` names the site or county (and
        carries the configured risk words)."""
        return NewComplaint(
            channel=Channel.WEB.value, phone=self.phone.data, name=(self.name.data or "").strip() or None,
            id_number=self.id_number.data, anonymous=self.anonymous.data, workers=self.workers.data or 1,
            amount=self.amount.data, months=self.months.data, free_text=self.free_text.data.strip(),
            photos=self.checked_photos, submission_key=self.submission_key.data, **where)


class GeneralComplaintForm(ComplaintForm):
    """The form of the general link: no site in the link, so the worker names the county and the project."""

    county = SelectField("工地在哪个区县", validate_choice=False, validators=[Required("请选择工地所在的区县")])
    project_name = StringField("工地或项目名称", filters=[clean_text], validators=[
        Required("请填写工地或项目名称"), Length(max=300, message="名称太长了，请写短一些")],
        render_kw={"placeholder": "比如：阳光城三期工地"})

    def __init__(self, uploads: UploadSettings, counties: list[Jurisdiction], **kwargs):
        super().__init__(uploads, **kwargs)
        self.county.choices = [("", "请选择")] + [(c.code, c.name) for c in counties]

    def validate_county(self, field):
        if field.data not in {code for code, _ in self.county.choices[1:]}:
            raise ValidationError("请选择工地所在的区县")

    def new_complaint(self, **where) -> NewComplaint:
        return super().new_complaint(jurisdiction_code=self.county.data,
                                     project_name=self.project_name.data.strip(), **where)


def _chosen(field: MultipleFileField) -> list:
    """Browsers send one empty part when no photo is chosen; that is not a photo."""
    return [f for f in field.data or [] if f and f.filename]


def photo_sender(phone: str | None, otherwise: str) -> str:
    """Whose hourly photo budget a post takes from: the worker's phone (by its identity), the same on the form and
    on their status page; `otherwise` without one."""
    return f"phone:{identity(phone)}" if phone else otherwise


def _checked_photos(field: MultipleFileField, uploads: UploadSettings, keep_location: bool,
                    worker: str) -> list[Photo]:
    """The chosen photos, each decoded and re-encoded by check_photo; too many or a bad one, or more pixels than
    the worker's hourly budget has left, is the field's error."""
    chosen = _chosen(field)
    if len(chosen) > uploads.max_photos:
        raise ValidationError(f"最多传 {uploads.max_photos} 张照片")
    try:
        return check_photos([(f.filename, f.read(uploads.max_photo_bytes + 1)) for f in chosen],
                            uploads.max_photo_bytes, uploads.max_request_pixels, keep_location,
                            lambda pixels: spend_pixels(worker, pixels, uploads.max_worker_pixels_per_hour))
    except EvidenceError as exc:
        raise ValidationError(str(exc)) from None


class WorkerMessageForm(FlaskForm):
    """A few words or photos a worker adds to their own case from the status page."""

    text = TextAreaField("补充说明", filters=[clean_text], validators=[
        Length(max=FREE_TEXT_MAX, message=f"最多写 {FREE_TEXT_MAX} 个字，请删减一些")],
        render_kw={"rows": 3, "placeholder": "比如：老板今天给了一半，还差一万七"})
    photos = MultipleFileField("补充照片（欠条、考勤、聊天截图，可以不传）", render_kw={"accept": "image/jpeg,image/png"})

    def __init__(self, uploads: UploadSettings, worker: str = "", **kwargs):
        super().__init__(**kwargs)
        self.uploads = uploads
        self.worker = worker  # whose hourly photo budget the photos take from
        self.checked_photos: list[Photo] = []

    def validate_photos(self, field):
        self.checked_photos = _checked_photos(field, self.uploads, False, self.worker)

    def validate_text(self, field):
        if not (field.data or "").strip() and not _chosen(self.photos):
            raise ValidationError("请写几句话，或者选择照片")


class StatusForm(FlaskForm):
    """Ticket number plus the phone's last four digits; any mismatch gets the same NOT_FOUND answer."""

    ticket_no = StringField("受理编号", filters=[normalise_digits], validators=[Required("请填写受理编号")],
                            render_kw={"inputmode": "numeric", "autocomplete": "off", "maxlength": 20})
    phone_last4 = StringField("手机号后四位", filters=[normalise_digits], validators=[Required("请填写手机号后四位")],
                              render_kw={"inputmode": "numeric", "autocomplete": "off", "maxlength": 4})


class ConfirmForm(FlaskForm):
    """The worker's answer to 工资到手了吗 on a resolved case, or their grade of the closed case, from the signed
    link only they received."""

    paid = HiddenField()
    satisfaction = HiddenField()

    def answer(self) -> bool | None:
        return {"yes": True, "no": False}.get(self.paid.data)

    def grade(self) -> Satisfaction | None:
        return Satisfaction(self.satisfaction.data) if self.satisfaction.data in set(Satisfaction) else None
