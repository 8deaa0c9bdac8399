"""What a worker on a small phone, and a clerk on a phone or a laptop, see: in real Chromium, no page scrolls
sideways, the ticket number is whole, no script logs an error, and every asset the page asks for is there."""
from __future__ import annotations

import secrets
import urllib.request
from dataclasses import replace

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from handlers import create_app
from intake.case.links import confirm_url
from intake.foundation.models import Site
from tests.helpers import console_login, make_accounts, routed, serving

PHONES = (320, 360, 390)
ASSETS = """return Array.from(document.querySelectorAll('link[href],script[src],img[src]'))
  .map(e => e.href || e.src).filter(u => u.startsWith(location.origin));"""
WIDTHS = "return [document.documentElement.scrollWidth, document.documentElement.clientWidth];"
TICKET = """const t = document.querySelector('.ticket'); const card = t.closest('.card');
const a = t.getBoundingClientRect(), b = card.getBoundingClientRect();
return [t.scrollWidth <= t.clientWidth, a.left >= b.left, a.right <= b.right, t.textContent.trim()];"""


@pytest.fixture
def demo_url(make_settings, app):
    with serving(create_app(make_settings(demo=True))) as url:
        yield url


def _at_width(driver, width: int) -> None:
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": 800, "deviceScaleFactor": 2, "mobile": width < 800})
    driver.refresh()


def _looks_right(driver, where: str) -> None:
    """No sideways scroll, no severe console message, every same-origin asset (and the favicon) answers 200."""
    scroll, inner = driver.execute_script(WIDTHS)
    assert scroll <= inner, f"{where}: the page is {scroll}px wide in a {inner}px window"
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], f"{where}: {errors}"
    origin = driver.execute_script("return location.origin")
    for url in [*driver.execute_script(ASSETS), f"{origin}/favicon.ico"]:
        with urllib.request.urlopen(url) as answer:
            assert answer.status == 200, f"{where}: {url}"


def test_worker_pages_fit_a_small_phone_and_the_ticket_stays_whole(demo_url, browser, session, settings):
    site = Site(code="W-1", name="阳光城三期住宅项目二标段", jurisdiction_code="371302", address="兰山区沂蒙路100号",
                public_token=secrets.token_urlsafe(16))
    session.add(site)
    session.commit()
    browser.get(f"{demo_url}/s/{site.public_token}")
    for width in PHONES:
        _at_width(browser, width)
        _looks_right(browser, f"form at {width}px")
    browser.find_element(By.NAME, "name").send_keys("张三")
    browser.find_element(By.NAME, "phone").send_keys("13800138000")
    browser.find_element(By.NAME, "free_text").send_keys("干了三个月，老板一直不给钱。")
    browser.find_element(By.NAME, "consent").click()
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 15).until(expected_conditions.presence_of_element_located((By.CLASS_NAME, "ticket")))
    receipt = browser.current_url
    ticket = browser.find_element(By.CLASS_NAME, "ticket").text
    for width in PHONES:
        _at_width(browser, width)
        _looks_right(browser, f"receipt at {width}px")
        fits, left, right, shown = browser.execute_script(TICKET)
        assert (fits, left, right, shown) == (True, True, True, ticket), f"ticket at {width}px"
    pages = {"status": f"{demo_url}/status?ticket={ticket}", "general form": f"{demo_url}/report",
             "chat": f"{demo_url}/demo/chat", "receipt": receipt}
    session.rollback()
    from intake.foundation.models import Complaint
    complaint = session.query(Complaint).filter_by(ticket_no=ticket).one()
    pages["confirm link"] = confirm_url(replace(settings, public_base_url=demo_url), complaint)
    session.commit()  # the link's reference is made on first use
    for name, url in pages.items():
        browser.get(url)
        for width in PHONES:
            _at_width(browser, width)
            _looks_right(browser, f"{name} at {width}px")


@pytest.mark.parametrize("width", [360, 1366])
def test_console_pages_fit_a_phone_and_a_laptop(request, app, server, session, settings, lanshan_site, width):
    browser = request.getfixturevalue("browser" if width < 800 else "desktop_browser")
    case = routed(app, session, settings, lanshan_site)
    accounts = make_accounts(session)
    console_login(browser, server, accounts["county"])
    for path in ("/console/", f"/console/cases/{case.ticket_no}", "/console/dashboard", "/console/report",
                 "/console/employers", "/console/sites"):
        browser.get(f"{server}{path}")
        if width < 800:
            _at_width(browser, width)
        _looks_right(browser, f"{path} at {width}px")
