"""A real headless Chromium, sized like a phone, fills a site's form through the real app served over HTTP."""
from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
from PIL import Image
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from handlers import create_app
from intake.case.notices import tell_worker
from intake.conversation import replies as R
from intake.foundation.models import Complaint, InboundMessage, Site, utcnow
from tests.helpers import SCREENSHOTS, serving

FIRST_MESSAGE = "兰山区阳光城工地，老板欠我们8个人三万五"


@pytest.fixture
def demo_server(make_settings, app):
    """The same, in demo mode (the suite's `app` still empties the tables afterwards)."""
    with serving(create_app(make_settings(demo=True))) as url:
        yield url


def full_page_screenshot(driver, path: Path) -> None:
    """The whole page as a phone would scroll it, for a person to judge the layout."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 390, "height": height, "deviceScaleFactor": 2, "mobile": True})
    driver.save_screenshot(str(path))
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True})


def test_worker_fills_the_site_form_on_a_phone(server, browser, session, tmp_path):
    site = Site(code=secrets.token_hex(6), name="阳光城三期工地", jurisdiction_code="371302",
                address="兰山区沂蒙路100号", public_token=secrets.token_urlsafe(16))
    session.add(site)
    session.commit()
    photo = tmp_path / "欠条.png"
    Image.new("RGB", (120, 80), (240, 240, 240)).save(photo)

    browser.get(f"{server}/s/{site.public_token}")
    assert "阳光城三期工地" in browser.find_element(By.TAG_NAME, "h1").text
    browser.find_element(By.NAME, "name").send_keys("张三")
    browser.find_element(By.NAME, "phone").send_keys("13800138000")
    browser.find_element(By.NAME, "workers").clear()
    browser.find_element(By.NAME, "workers").send_keys("8")
    browser.find_element(By.NAME, "amount").send_keys("35000")
    browser.find_element(By.NAME, "months").send_keys("3")
    browser.find_element(By.NAME, "free_text").send_keys("干了三个月，老板一直不给钱。")
    browser.find_element(By.NAME, "photos").send_keys(str(photo))
    browser.find_element(By.NAME, "consent").click()
    full_page_screenshot(browser, SCREENSHOTS / "qingling-form.png")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    WebDriverWait(browser, 15).until(expected_conditions.presence_of_element_located((By.CLASS_NAME, "ticket")))
    ticket = browser.find_element(By.CLASS_NAME, "ticket").text
    assert re.fullmatch(r"\d{12}", ticket) and browser.current_url.endswith(f"/r/{ticket}")
    full_page_screenshot(browser, SCREENSHOTS / "qingling-receipt.png")

    session.rollback()
    complaint = session.scalar(select(Complaint).where(Complaint.ticket_no == ticket))
    assert complaint is not None and complaint.site_id == site.id and complaint.amount == 35000
    assert len(complaint.attachments) == 1


def test_a_form_sent_after_its_cookie_expired_comes_back_filled_in(server, browser, session):
    """A worker fills the form, the phone drops the session cookie (a day on the page, WeChat's browser), and the
    tap on 提交 brings the form back as typed with one sentence; the next tap files it."""
    site = Site(code="EXPIRED1", name="阳光城三期工地", jurisdiction_code="371302", public_token=secrets.token_urlsafe(16))
    session.add(site)
    session.commit()
    browser.get(f"{server}/s/{site.public_token}")
    typed = {"name": "张三", "phone": "13800138000", "amount": "35000", "free_text": "干了三个月，老板一直不给钱。"}
    for name, value in typed.items():
        browser.find_element(By.NAME, name).send_keys(value)
    browser.find_element(By.NAME, "consent").click()
    browser.delete_all_cookies()
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 15).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".alert")))
    assert "您填的内容都还在下面" in browser.find_element(By.CSS_SELECTOR, ".alert").text
    for name, value in typed.items():
        assert browser.find_element(By.NAME, name).get_attribute("value") == value, name
    assert browser.find_element(By.NAME, "consent").is_selected()
    session.rollback()
    assert session.scalar(select(Complaint)) is None
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 15).until(expected_conditions.presence_of_element_located((By.CLASS_NAME, "ticket")))
    session.rollback()
    [complaint] = session.scalars(select(Complaint)).all()
    assert complaint.ticket_no == browser.find_element(By.CLASS_NAME, "ticket").text
    assert complaint.free_text == typed["free_text"] and complaint.amount == 35000


def test_the_simulator_keeps_the_newest_message_in_view_and_shows_later_notices(demo_server, browser, session,
                                                                                settings):
    browser.get(f"{demo_server}/demo/chat")
    at_end = "return window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 2"
    for n, text in enumerate((FIRST_MESSAGE, "张三", "13812345678", "确认", "查询", "帮助", "进度"), 1):
        browser.find_element(By.NAME, "text").send_keys(text)
        browser.find_element(By.CLASS_NAME, "chat-send").click()
        WebDriverWait(browser, 15).until(lambda b: len(b.find_elements(By.CSS_SELECTOR, ".msg.them")) >= n)
        assert browser.execute_script(at_end), text  # the page is taller than the phone: it followed the chat
    session.rollback()
    complaint = session.scalar(select(Complaint))
    tell_worker(session, settings, complaint, "message", utcnow(), message="请把欠条拍照发过来")
    session.commit()
    WebDriverWait(browser, 15).until(
        lambda b: "请把欠条拍照发过来" in b.find_elements(By.CSS_SELECTOR, ".msg.them .bubble")[-1].text)
    assert browser.execute_script(at_end)
    browser.refresh()  # read back from the stored thread, in the same order
    bubbles = [b.text for b in browser.find_elements(By.CSS_SELECTOR, ".msg.them .bubble")]
    assert "请把欠条拍照发过来" in bubbles[-1] and any(complaint.ticket_no in b for b in bubbles[:-1])


def test_chat_simulator_on_a_phone(demo_server, browser, session):
    browser.get(f"{demo_server}/demo/chat")
    box = browser.find_element(By.NAME, "text")
    box.send_keys("兰山区阳光城工地，老板欠我们8个人三万五")
    browser.find_element(By.CLASS_NAME, "chat-send").click()

    WebDriverWait(browser, 15).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".msg.them")))
    assert browser.find_element(By.CSS_SELECTOR, ".msg.me .bubble").text == "兰山区阳光城工地，老板欠我们8个人三万五"
    assert browser.find_element(By.CSS_SELECTOR, ".msg.them .bubble").text == R.QUESTIONS["name"]
    assert browser.current_url.endswith("/demo/chat") and box.get_attribute("value") == ""
    full_page_screenshot(browser, SCREENSHOTS / "qingling-chat.png")
    session.rollback()
    stored = session.scalar(select(InboundMessage))
    assert stored.channel == "wechat" and stored.provider_message_id.startswith("demo:")
