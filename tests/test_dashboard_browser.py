"""The supervision dashboard in a real headless Chromium: the page logs in through the form, the bundled
Chart.js draws both charts from the page's data (no inline script), and the figures are on screen."""
from __future__ import annotations

import json
from datetime import timedelta

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from intake.foundation.models import utcnow
from tests.helpers import SCREENSHOTS, console_login, make_accounts, routed

DRAWN = """
const canvas = document.getElementById(arguments[0]);
const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
let drawn = 0;
for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] > 0) { drawn++; } }
return [canvas.width, canvas.height, drawn];
"""


def test_the_dashboard_draws_its_charts(app, server, desktop_browser, session, settings, lanshan_site, tmp_path):
    late = routed(app, session, settings, lanshan_site)
    routed(app, session, settings, lanshan_site, phone="13900000077")
    late.next_due_at = utcnow() - timedelta(hours=1)  # a deadline already past: one overdue case
    session.add(late)
    session.commit()
    accounts = make_accounts(session)

    console_login(desktop_browser, server, accounts["county"])
    desktop_browser.find_element(By.LINK_TEXT, "督导看板").click()
    WebDriverWait(desktop_browser, 15).until(expected_conditions.presence_of_element_located((By.ID, "chart-daily")))

    data = json.loads(desktop_browser.find_element(By.ID, "dashboard-data").get_attribute("textContent"))
    assert sum(data["daily"]["received"]) == 2 and data["overdue"]["values"] == [1]
    for chart in ("chart-daily", "chart-overdue"):
        WebDriverWait(desktop_browser, 15).until(lambda d, c=chart: d.execute_script(DRAWN, c)[2] > 0)
        width, height, drawn = desktop_browser.execute_script(DRAWN, chart)
        assert width > 300 and height > 100 and drawn > 1000, (chart, width, height, drawn)
    assert desktop_browser.execute_script("return typeof Chart") == "function"
    assert [e for e in desktop_browser.get_log("browser") if e["level"] == "SEVERE"] == []
    stats = desktop_browser.find_element(By.CLASS_NAME, "stats").text
    assert "2\n收到投诉" in stats and "1\n当前超期" in stats
    desktop_browser.set_window_size(1366, desktop_browser.execute_script("return document.body.scrollHeight") + 100)
    desktop_browser.save_screenshot(str(tmp_path / "dashboard.png"))
    desktop_browser.save_screenshot(str(SCREENSHOTS / "qingling-dashboard.png"))
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000


def test_an_empty_dashboard_says_so_instead_of_blank_charts(app, server, desktop_browser, session):
    accounts = make_accounts(session)
    console_login(desktop_browser, server, accounts["county"])
    desktop_browser.get(f"{server}/console/dashboard")
    charts = desktop_browser.find_element(By.CLASS_NAME, "charts")
    WebDriverWait(desktop_browser, 15).until(lambda d: "暂无超期案件" in charts.text)
    assert "暂无：这段时间没有收到或销号的案件" in charts.text
    assert desktop_browser.find_elements(By.CSS_SELECTOR, ".charts canvas") == []
    assert [e for e in desktop_browser.get_log("browser") if e["level"] == "SEVERE"] == []
