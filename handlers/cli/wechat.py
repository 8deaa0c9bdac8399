"""`qingling wechat qrcodes --county CODE`: a permanent parametric QR code of the official account per site.

Scanning one follows the account and tells the dialogue which site it is (the scene is the site's public
token), so the poster can carry it instead of the form link (`[poster] qr_target = "wechat"`).
"""
from __future__ import annotations

import click
from flask.cli import with_appcontext
from wechatpy.exceptions import WeChatClientException

from intake.registry.directory import find_jurisdiction
from intake.registry.sites import list_sites

from ..channels import wechat
from ..runtime import services


@click.group("wechat", help="The WeChat official account.")
def wechat_group() -> None:
    pass


@wechat_group.command("qrcodes", help="Create the account's QR code for each site of a county (once per site).")
@click.option("--county", required=True, help="County code, name or short name.")
@click.option("--again", is_flag=True, help="Create new codes even for sites that have one.")
@with_appcontext
def qrcodes(county: str, again: bool) -> None:
    settings = services().settings
    if not (settings.wechat.app_id and settings.wechat.app_secret):
        raise click.ClickException("未配置公众号：请设置 QINGLING_WECHAT_APP_ID 和 QINGLING_WECHAT_APP_SECRET")
    client = wechat.make_client(settings)
    created = kept = 0
    with services().sessions() as session:
        found = find_jurisdiction(session, county)
        if found is None:
            raise click.ClickException(f"未知的区县：{county}")
        for site in list_sites(session, found.code):
            if site.wechat_qr_url and not again:
                kept += 1
                continue
            try:
                result = client.qrcode.create({"action_name": "QR_LIMIT_STR_SCENE",
                                               "action_info": {"scene": {"scene_str": site.public_token}}})
            except WeChatClientException as exc:
                session.commit()  # keep the codes made so far: each one counts against the account's 100,000
                raise click.ClickException(f"{site.code} {site.name}：微信接口出错 {exc.errcode} {exc.errmsg}"
                                           f"（已生成 {created} 个）") from None
            # The poster draws its own QR code, so it needs the code's content URL; the image link is the fallback.
            site.wechat_qr_url = result.get("url") or client.qrcode.get_url(result)
            created += 1
            click.echo(f"{site.code} {site.name}：{site.wechat_qr_url}")
        session.commit()
    click.echo(f"{found.name}：新生成 {created} 个公众号二维码，已有 {kept} 个未变。")
