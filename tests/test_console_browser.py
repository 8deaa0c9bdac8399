"""The console in a real headless Chromium at an office screen's size: log in, find the case in the queue,
acknowledge it, work it and resolve it with the buttons a department officer clicks."""
from __future__ import annotations

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as until
from selenium.webdriver.support.ui import WebDriverWait

from intake.foundation.models import Status
from tests.helpers import PASSWORD, SCREENSHOTS, console_login, make_accounts, reload, routed


def gone(element):
    """Wait condition: the element left the document. Like selenium's staleness_of, but Chromium may also answer
    "Node with given id does not belong to the document" (a plain WebDriverException) while the page is replaced."""
    def check(_driver) -> bool:
        try:
            element.is_enabled()
        except WebDriverException:  # StaleElementReferenceException is one too
            return True
        return False
    return check


def click_action(driver, label: str, **fields):
    """Open the action's panel (if it has fields), fill them, press its button; wait for the page to come back."""
    panel = [d for d in driver.find_elements(By.CSS_SELECTOR, "details.action")
             if d.find_element(By.TAG_NAME, "summary").text == label]
    if panel:
        panel[0].find_element(By.TAG_NAME, "summary").click()
        for name, value in fields.items():
            panel[0].find_element(By.NAME, name).send_keys(value)
        button = panel[0].find_element(By.CSS_SELECTOR, "button[type=submit]")
    else:
        button = driver.find_element(By.XPATH, f"//form[@class='one-click']/button[text()='{label}']")
    button.click()
    WebDriverWait(driver, 15).until(gone(button))  # the new page, not the last one's flash
    WebDriverWait(driver, 15).until(until.presence_of_element_located((By.CSS_SELECTOR, ".flash")))
    return driver.find_element(By.CSS_SELECTOR, ".flash").text


def test_an_officer_logs_in_acknowledges_and_resolves_a_case(app, server, desktop_browser, session, settings,
                                                              lanshan_site):
    desktop = desktop_browser
    users = make_accounts(session)
    case = routed(app, session, settings, lanshan_site)
    desktop.get(f"{server}/console/")
    assert "/console/login" in desktop.current_url
    desktop.find_element(By.NAME, "username").send_keys(users["staff"])
    desktop.find_element(By.NAME, "password").send_keys(PASSWORD)
    desktop.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    WebDriverWait(desktop, 15).until(until.presence_of_element_located((By.CSS_SELECTOR, "table.queue")))
    row = desktop.find_element(By.LINK_TEXT, case.ticket_no)
    assert "green" in desktop.find_element(By.CSS_SELECTOR, "td.clocks .clock").get_attribute("class")
    desktop.save_screenshot(str(SCREENSHOTS / "qingling-console-queue.png"))
    row.click()

    WebDriverWait(desktop, 15).until(until.title_contains(case.ticket_no))
    assert click_action(desktop, "签收") == "已签收"
    assert click_action(desktop, "记录联系工人", note="已电话联系，约明天面谈") == "已记录联系工人"
    assert click_action(desktop, "受理") == "已受理"
    desktop.save_screenshot(str(SCREENSHOTS / "qingling-console-case.png"))
    assert click_action(desktop, "办结", outcome="老板已支付全部工资", amount_recovered="12000") == "已办结"
    assert desktop.find_element(By.CSS_SELECTOR, ".status").text == "已办结待确认"
    assert reload(session, case).status == Status.RESOLVED.value


def test_an_officer_takes_the_case_and_leaves_a_note_only_staff_see(app, server, desktop_browser, session, settings,
                                                                    lanshan_site):
    users = make_accounts(session)
    case = routed(app, session, settings, lanshan_site)
    console_login(desktop_browser, server, users["staff"])
    desktop_browser.get(f"{server}/console/cases/{case.ticket_no}")
    assert click_action(desktop_browser, "我来办理") == "您已是本案承办人"
    assert f"承办人：{users['staff']}" in desktop_browser.find_element(By.TAG_NAME, "body").text
    assert click_action(desktop_browser, "内部备注（工人看不到）", note="明天上午去工地核实考勤") == "已添加内部备注"
    internal = desktop_browser.find_element(By.CSS_SELECTOR, ".timeline li.internal")
    assert "明天上午去工地核实考勤" in internal.text and "仅工作人员可见" in internal.text
    desktop_browser.get(f"{server}/console/?officer=mine")
    assert desktop_browser.find_element(By.LINK_TEXT, case.ticket_no)
    assert reload(session, case).officer.username == users["staff"]
