"""Phone and walk-in intake (电话投诉有人接听、上门投诉有人接待): staff type in a worker's complaint, which then
takes the same path as every channel's (create_complaint, routed by the worker, receipt by SMS if a phone)."""
from __future__ import annotations

import uuid

from flask import flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional, Regexp, ValidationError

from intake.case.complaints import NewComplaint, create_complaint
from intake.foundation.models import Channel, Site
from intake.foundation.validation import clean_text, normalise_id_number, normalise_phone
from intake.registry.directory import counties

from ..forms import FREE_TEXT_MAX, ParsedField, Required, whole_number
from ..runtime import db, services
from .blueprint import bp, record, scope, staff_view


class StaffIntakeForm(FlaskForm):
    channel = RadioField("来源", default=Channel.PHONE.value, validators=[Required("请选择来源")])
    name = StringField("工人姓名", filters=[clean_text], validators=[Length(max=100, message="姓名太长")])
    anonymous = BooleanField("匿名反映（不向用人单位透露身份）")
    phone = ParsedField("手机号（有则发短信回执）", normalise_phone, "手机号不对，请填 11 位手机号")
    id_number = ParsedField("身份证号（可不填）", normalise_id_number, "身份证号不对")
    county = SelectField("工地所在区县", validate_choice=False, validators=[Required("请选择区县")])
    site_code = StringField("项目编号（知道则填）", filters=[clean_text], validators=[Optional(), Length(max=64)])
    project_name = StringField("工地或项目名称", filters=[clean_text], validators=[
        Required("请填写工地或项目名称"), Length(max=300, message="名称太长")])
    workers = ParsedField("被欠薪人数", whole_number(1, 100_000), "人数请填数字", default=1)
    amount = ParsedField("欠薪金额（元）", whole_number(1, 10_000_000_000), "金额请只填数字")
    months = ParsedField("欠薪月数", whole_number(1, 600), "月数请填数字")
    free_text = TextAreaField("情况记录", filters=[clean_text], validators=[
        Required("请记录工人反映的情况"), Length(max=FREE_TEXT_MAX, message=f"最多 {FREE_TEXT_MAX} 字")])
    submission_key = HiddenField(validators=[Regexp(r"^[0-9a-f]{32}$", message="页面已过期，请刷新")])

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.channel.choices = [(Channel.PHONE.value, "电话"), (Channel.WALK_IN.value, "来访")]
        self.county.choices = [("", "请选择")] + [(c.code, c.name) for c in counties(db())]
        if not self.is_submitted():
            self.submission_key.data = uuid.uuid4().hex

    def validate_county(self, field):
        if field.data not in {code for code, _ in self.county.choices[1:]}:
            raise ValidationError("请选择区县")

    def validate_name(self, field):
        if not self.anonymous.data and not (field.data or "").strip():
            raise ValidationError("请填写姓名，或勾选匿名")

    def site(self) -> Site | None:
        code = (self.site_code.data or "").strip()
        return db().scalar(select(Site).where(Site.code == code, scope().sites())) if code else None


@bp.route("/intake", methods=["GET", "POST"])
@staff_view("intake")
def intake():
    form = StaffIntakeForm()
    if form.validate_on_submit():
        site = form.site()
        if form.site_code.data and site is None:
            form.site_code.errors.append("没有这个项目编号")
        else:
            new = NewComplaint(
                channel=form.channel.data, phone=form.phone.data, name=(form.name.data or "").strip() or None,
                id_number=form.id_number.data, anonymous=form.anonymous.data, workers=form.workers.data or 1,
                amount=form.amount.data, months=form.months.data, free_text=form.free_text.data.strip(),
                site_id=site.id if site else None, jurisdiction_code=form.county.data,
                project_name=form.project_name.data.strip(), submission_key=form.submission_key.data,
                claim={"entered_by": scope().username}, risk_words=services().settings.reading.all_risk_words())
            complaint, created = create_complaint(db(), new)
            if created:
                record("intake", complaint.ticket_no, channel=new.channel)
            db().commit()
            flash(f"已登记，受理编号 {complaint.ticket_no}" + ("，回执短信将发给工人" if new.phone else ""), "ok")
            return redirect(url_for("console.intake"), 303)
    return render_template("console/intake.html", form=form)
