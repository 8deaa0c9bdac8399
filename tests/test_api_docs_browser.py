"""The API reference in real Chromium: Swagger UI, served from its package, renders every operation of the
document under the strict Content-Security-Policy, and the page is a readable length on a laptop."""
from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from handlers.api.v1 import api


def test_the_reference_renders_every_operation_without_errors(server, desktop_browser):
    document = api.document()
    operations = sum(len(item) for item in document["paths"].values())
    desktop_browser.get(f"{server}/api/v1/docs")
    WebDriverWait(desktop_browser, 15).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) == operations)
    paths = {e.text for e in desktop_browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
    assert "/api/v1/complaints/{ticket_no}/actions" in {p.replace("\u200b", "") for p in paths}
    assert [e for e in desktop_browser.get_log("browser") if e["level"] == "SEVERE"] == []
    assert desktop_browser.execute_script("return document.documentElement.scrollHeight") < 6000
