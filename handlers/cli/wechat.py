"""`qingling wechat menu` pushes the official account's menu; `qingling wechat qrcodes --county CODE` makes a
permanent parametric QR code of the official account per site.

Scanning one follows the account and tells the dialogue which site it is (the scene is the site's public
token), so the poster can carry it instead of the form link (`[poster] qr_target = "wechat"`).
"""
from __future__ import annotations

import json

import click
from flask.cli import with_appcontext
from wechatpy.exceptions import WeChatClientException

from intake.foundation.settings import printable_base_url
from intake.registry.directory import find_jurisdiction
from intake.registry.sites import list_sites

from ..channels import wechat
from ..runtime import services


@click.group("wechat", help="The WeChat official account.")
def wechat_group() -> None:
    pass


def menu_buttons(public_url) -> dict:
    """The account's menu: the dialogue's own words behind two buttons (wechat.MENU), and the 维权须知 page."""
    return {"button": [{"type": "click", "name": wechat.MENU["COMPLAIN"], "key": "COMPLAIN"},
                       {"type": "click", "name": wechat.MENU["STATUS"], "key": "STATUS"},
                       {"type": "view", "name": "维权须知", "url": public_url("/rights")}]}


@wechat_group.command("menu", help="Create the official account's menu (我要投诉, 查询进度, 维权须知).")
@click.option("--dry-run", is_flag=True, help="Print the menu that would be pushed; change nothing.")
@with_appcontext
def menu(dry_run: bool) -> None:
    settings = services().settings
    refusal, _warning = printable_base_url(settings.public_base_url)
    if refusal:
        raise click.ClickException(refusal)
    buttons = menu_buttons(settings.public_url)
    click.echo(json.dumps(buttons, ensure_ascii=False, indent=2))
    if dry_run:
        click.echo("（试运行：没有推送）")
        return
    if not (settings.wechat.app_id and settings.wechat.app_secret):
        raise click.ClickException("未配置公众号：请设置 QINGLING_WECHAT_APP_ID 和 QINGLING_WECHAT_APP_SECRET")
    try:
        wechat.make_client(settings).menu.create(buttons)
    except WeChatClientException as exc:
        raise click.ClickException(f"微信接口出错 {exc.errcode} {exc.errmsg}：菜单没有改变") from None
    click.echo("公众号菜单已更新（微信端最长约 5 分钟后生效）。")


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
