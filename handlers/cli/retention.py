"""`qingling retention [--dry-run]`: anonymise cases closed longer ago than `[privacy] retention_years`."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from intake.foundation.models import utcnow
from intake.privacy.retention import anonymise_due, drop_check_in_photos

from ..runtime import services


@click.command("retention", help="Remove the worker's personal data from cases closed more than [privacy] "
                                 "retention_years ago (amounts and dates stay), and the photos and places of "
                                 "poster check-ins older than check_in_photo_days. Idempotent; run it e.g. nightly.")
@click.option("--dry-run", is_flag=True, help="Only count what would be removed.")
@with_appcontext
def retention(dry_run: bool) -> None:
    privacy = services().settings.privacy
    report = anonymise_due(services().sessions, utcnow(), privacy.retention_years, privacy.batch_size, dry_run)
    check_ins = drop_check_in_photos(services().sessions, utcnow(), privacy.check_in_photo_days, dry_run)
    figures = f"{report.cases} 件案件，{report.photos} 张照片，{report.messages} 条聊天记录"
    photos = f"满 {privacy.check_in_photo_days} 天的张贴检查照片 {check_ins} 张（连同拍摄位置）"
    if dry_run:
        click.echo(f"试运行：结案满 {privacy.retention_years} 年、将清除个人信息的有 {figures}；将删除{photos}。"
                   "未做任何修改。")
    else:
        click.echo(f"已清除结案满 {privacy.retention_years} 年的 {figures}的个人信息；已删除{photos}。已记入审计日志。")
