"""`qingling keys rotate` (re-encrypt under the current data key) and `qingling keys generate`."""
from __future__ import annotations

import click
from cryptography.fernet import Fernet
from flask.cli import with_appcontext

from intake.foundation.encryption import DataKeyError
from intake.people.audit import audit
from intake.privacy.key_rotation import RotationReport, rotate_keys

from ..runtime import services
from .users import CLI_ACTOR


@click.group("keys", help="The data key that encrypts workers' phone and ID numbers.")
def keys_group() -> None:
    pass


@keys_group.command("generate", help="Print a new random data key (for QINGLING_PRIVACY_DATA_KEY).")
def keys_generate() -> None:
    click.echo(Fernet.generate_key().decode())


@keys_group.command("rotate", help="Re-encrypt every stored number under the current key (safe to interrupt "
                                   "and run again). Keep the old key in previous_data_keys until it has finished.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Rows per transaction (default: [privacy] batch_size).")
@with_appcontext
def keys_rotate(batch_size: int | None) -> None:
    svc = services()

    def progress(report: RotationReport) -> None:
        click.echo(f"已检查 {report.rows} 条，重新加密 {report.rotated} 条")

    try:
        report = rotate_keys(svc.sessions, batch_size or svc.settings.privacy.batch_size, progress)
    except DataKeyError as exc:
        raise click.ClickException(f"密钥不对，已停止（{exc}）。已完成的批次保持不变，配置好密钥后重新运行即可。") from exc
    with svc.sessions.begin() as session:
        audit(session, user_id=None, username=CLI_ACTOR, action="keys_rotated",
              detail={"rows": report.rows, "rotated": report.rotated})
    click.echo(f"完成：共 {report.rows} 条，本次重新加密 {report.rotated} 条，{report.current} 条原已是当前密钥。")
