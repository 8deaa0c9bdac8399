"""The worker's wiring of the chat channels: senders per destination scheme, media fetchers per source scheme,
for every channel that is configured."""
from __future__ import annotations

from intake.delivery.media import Fetcher
from intake.delivery.outbox import Sender
from intake.foundation.settings import Settings

from ..api import media_urls
from . import aliyun_sms, tencent_sms, twilio_sms, wechat


def build_senders(settings: Settings) -> dict[str, Sender]:
    """The outbox's senders for every configured channel, keyed by destination scheme."""
    senders: dict[str, Sender] = {}
    if wechat.configured(settings):
        sender = wechat.WeChatSender(wechat.make_client(settings), settings.wechat.template_id)
        senders.update({wechat.TEXT_SCHEME: sender, wechat.TEMPLATE_SCHEME: sender})
    if twilio_sms.configured(settings):
        senders["sms"] = twilio_sms.make_sender(settings)
    for gateway in (aliyun_sms, tencent_sms):
        if gateway.configured(settings):
            senders["sms"] = gateway.make_sender(settings)
    return senders


def build_fetchers(settings: Settings) -> dict[str, Fetcher]:
    """The media fetchers, keyed by source scheme: photos named by address (Open311), and each configured
    channel's (WeChat's media, Twilio's MMS pictures)."""
    fetchers: dict[str, Fetcher] = {media_urls.SCHEME: media_urls.UrlFetcher(
        settings.uploads.max_photo_bytes, settings.api.media_fetch_private_hosts)}
    if wechat.configured(settings):
        fetchers[wechat.MEDIA_SCHEME] = wechat.WeChatMediaFetcher(wechat.make_client(settings))
    if twilio_sms.configured(settings):
        fetchers[twilio_sms.MEDIA_SCHEME] = twilio_sms.TwilioMediaFetcher(settings.twilio.account_sid,
                                                                          settings.twilio.auth_token)
    return fetchers
