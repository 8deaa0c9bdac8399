"""The Content-Security-Policy in a real Chromium: the worker's form, the chat simulator and the console load
without a single violation in the browser's console, and their scripts still do their work."""
from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from intake.conversation import replies as R
from tests.helpers import PASSWORD, chromium, make_accounts, routed, serving


@pytest.fixture
def demo(configured_app):
    app = configured_app(demo=True)
    with serving(app) as url:
        yield app, url


@pytest.fixture
def browser():
    with chromium(390, 844, phone=True) as driver:
        yield driver


def violations(driver) -> list[str]:
    """Policy violations and script errors since the last call (a missing favicon is neither)."""
    return [entry["message"] for entry in driver.get_log("browser")
            if "Content Security Policy" in entry["message"]
            or (entry["level"] == "SEVERE" and entry.get("source") != "network")]


def test_the_pages_run_under_the_policy_without_violations(demo, browser, session, settings, lanshan_site):
    app, url = demo
    complaint = routed(app, session, settings, lanshan_site)
    users = make_accounts(session)

    # The worker's form: its script (static/form.js) still marks the button while a slow upload runs.
    browser.get(f"{url}/s/{lanshan_site.public_token}")
    # Held on the page (no validation, no navigation) so the button can be looked at after the tap.
    browser.execute_script("var form = document.querySelector('form.complaint'); form.noValidate = true;"
                           "form.addEventListener('submit', function (event) { event.preventDefault(); });")
    button = browser.find_element(By.CSS_SELECTOR, "form.complaint button[type=submit]")
    browser.execute_script("arguments[0].form.requestSubmit(arguments[0]);", button)
    assert button.text == "正在提交，请稍候…" and not button.is_enabled()
    assert violations(browser) == []

    # The chat simulator: a message is sent and answered without a page load.
    browser.get(f"{url}/demo/chat")
    browser.find_element(By.NAME, "text").send_keys("兰山区工地老板欠我们8个人三万五")
    browser.find_element(By.CSS_SELECTOR, ".chat-send").click()
    WebDriverWait(browser, 10).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".msg.them")) >= 1)
    assert R.QUESTIONS["name"] in browser.find_elements(By.CSS_SELECTOR, ".msg.them")[-1].text
    assert violations(browser) == []

    # The console: log-in, the queue and a case page, styled by its own stylesheet only.
    browser.get(f"{url}/console/login")
    browser.find_element(By.NAME, "username").send_keys(users["admin"])
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda d: d.current_url.endswith("/console/"))
    browser.get(f"{url}/console/cases/{complaint.ticket_no}")
    assert complaint.ticket_no in browser.page_source
    assert browser.execute_script("return getComputedStyle(document.body).fontFamily") != "", "console.css loaded"
    assert violations(browser) == []


def test_an_inline_script_would_be_reported(demo, browser):
    """The check above can fail: an injected inline script is refused, and the refusal is in the log."""
    _app, url = demo
    browser.get(f"{url}/status")
    browser.execute_script("var s = document.createElement('script'); s.textContent = 'window.ran = 1';"
                           "document.body.appendChild(s);")
    assert browser.execute_script("return window.ran") is None
    assert any("Content Security Policy" in message for message in violations(browser))
