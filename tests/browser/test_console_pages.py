"""The support console's pages in a real browser: who may not see them, accessibility and shortcuts on every one,
times in UTC, and the queue on common screens (the flows: test_console.py)."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from pymongo import MongoClient

from bench.system import wait_until
from services.intake.adapters.web_sessions import principal_document, session_hash
from services.intake.domain.principals import Principal, Role
from services.intake.entrypoints.portal_web import SESSION_COOKIE
from tests.browser.conftest import assert_accessible, cut_fields
from tests.browser.test_console import (  # noqa: F401 - the console's people and keys, shared
    ann,
    keys,
    live_text,
    rita,
    root,
    system_env,
    triaged,
)
from tests.e2e.api import Api

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_reporters_and_vendors_get_404_on_every_console_url(browser, rita, system):  # noqa: F811
    number = rita.api.report(title="My own ticket", severity="low", type="data")["number"]
    rita.sign_in("/tickets")
    vendor = browser.new_context()
    try:
        sid = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        vendor_principal = Principal(id="vendor-principal-1", role=Role.VENDOR, name="Vic Vendor",
                                     email="vic@vendor.example.com", vendor_id="acme")
        with MongoClient(system.mongodb_url, tz_aware=True) as client:  # a session that carries the vendor role
            client[system.mongodb_db]["web_sessions"].insert_one({
                "_id": session_hash(sid), "principal": principal_document(vendor_principal), "created_at": now,
                "expires_at": now + timedelta(hours=1), "via": "test"})
        vendor.add_cookies([{"name": SESSION_COOKIE, "value": sid, "url": rita.base}])
        gets = ["/console", "/console?assignee=me", "/console/sla", "/console/sla.csv", "/console/features",
                "/console/admin", "/console/admin/config", f"/console/tickets/{number}",
                f"/console/tickets/{number}/live", f"/console/tickets/{number}/deliveries"]
        posts = ["/console/bulk", f"/console/tickets/{number}/comment", f"/console/tickets/{number}/resolve",
                 "/console/admin/keys", "/console/admin/keys/k1/revoke", "/console/admin/people/p1/revoke"]
        for who, context in (("reporter", rita.context), ("vendor", vendor)):
            assert context.request.get(rita.base + "/tickets", max_redirects=0).status in (200, 404), who
            for path in gets:
                response = context.request.get(rita.base + path, max_redirects=0)
                assert response.status == 404, f"{who} GET {path}: {response.status}"
                assert "Console" not in response.text() or "Not Found" in response.text() or "not found" in \
                    response.text().lower(), f"{who} GET {path} shows nothing of the console"
            for path in posts:  # refused before the form is read: no CSRF token, no body, still 404
                response = context.request.post(rita.base + path, form={"ticket": number, "body": "x",
                                                                       "action": "note", "note": "x"},
                                                max_redirects=0)
                assert response.status == 404, f"{who} POST {path}: {response.status}"
        assert all("x" != e.get("detail") for e in rita.api.ticket(number)["timeline"]), "nothing was applied"
        page = rita.open("/console")
        assert "Support Console" not in page.content() or page.locator("nav[aria-label=Console]").count() == 0
    finally:
        vendor.close()


def test_every_console_page_passes_axe_and_shortcuts_are_listed(root, rita, shots):  # noqa: F811
    number = rita.api.report(title="Please add dark mode", type="feature", kind="feature_request",
                             use_case="Working at night", importance="low")["number"]
    root.sign_in("/console")
    page = root.page
    for path, name in (("/console", "queue"), ("/console/sla", "sla"), ("/console/features", "features"),
                       ("/console/admin", "admin"), ("/console/admin/config", "admin-config"),
                       (f"/console/tickets/{number}/deliveries", "deliveries"), (f"/console/tickets/{number}", "ticket")):
        page.goto(root.base + path)
        assert page.locator("main").count() == 1, path
        assert_accessible(page, f"console {name}")
        if name in ("features", "admin", "admin-config"):
            shots.take(page, f"console-{name}")
    page.goto(root.base + "/console")
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    dialog.wait_for()
    assert "Next / previous ticket" in dialog.inner_text()
    assert_accessible(page, "shortcuts dialog")


def test_console_times_are_in_utc_and_the_queue_fits_common_screens(ann, rita, keys, system, shots):  # noqa: F811
    """Every time on the console is UTC, as its history lines are written (the browser here is in Berlin); the
    triage line says its due time in those words; the queue's Age is an age, and neither its SLA words nor its
    filters' and bulk action's words are ever cut."""
    agent = Api(system.url("intake"), keys["ann"])
    probe = f"Fit probe {secrets.token_hex(3)}"
    paused = rita.api.report(title=f"{probe}: the export stalls", severity="medium", type="data")["number"]
    low = rita.api.report(title=f"{probe}: a typo in the footer", severity="low", type="data")["number"]
    for number in (paused, low):
        triaged(rita.api, number)
    agent.post(f"/v1/tickets/{paused}/acknowledge", expect=200)
    agent.post(f"/v1/tickets/{paused}/status", {"status": "waiting_for_info", "reason": "Which export stalls?"},
               expect=200)

    ann.sign_in(f"/console/tickets/{paused}")
    page = ann.page
    history = page.locator("#workbench-live .timeline")
    triage_line = history.locator("li", has_text="Triaged as").inner_text()
    assert re.search(r"response due \w{3} \d{1,2} \w{3} \d{2}:\d{2} UTC", triage_line), triage_line
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", live_text(page)), "no raw ISO time on the workbench"

    def attempts_shown() -> bool:  # the notifications part loads after the page; the reporter's mails are on it
        page.reload()
        page.locator("#deliveries table, #deliveries p").first.wait_for()
        return page.locator("#deliveries .attempts li").count() > 0

    wait_until(attempts_shown, "the notifier's delivery attempts on the workbench", 30, 1)
    shown = page.locator("main time").all_inner_texts()
    assert shown and all(t.endswith("UTC") for t in shown), f"every time in UTC, none in the browser's zone: {shown}"
    assert "All times are in UTC" in page.locator("footer").inner_text()

    page.goto(ann.base + "/console?q=" + probe.replace(" ", "+"))

    def paused_shown() -> bool:
        page.reload()
        return "paused (waiting for the reporter)" in page.locator("#queue").inner_text()

    wait_until(paused_shown, "the paused clock in the queue", 30, 0.5)
    ages = page.locator("#queue td.age").all_inner_texts()
    assert ages and all(re.fullmatch(r"\d+ (min|h|d)( \d+ (min|h))?", a.strip()) for a in ages), f"ages: {ages}"
    for width in (390, 1024, 1280, 1366, 1440, 1920):  # a phone (on call), then desks
        page.set_viewport_size({"width": width, "height": 900})
        cut = page.evaluate("""() => {
            const edge = document.documentElement.clientWidth;
            const cut = [...document.querySelectorAll('#queue .countdown')].filter(el => {
                const box = el.getBoundingClientRect();
                return box.right > edge + 0.5 || el.scrollWidth > el.clientWidth + 1;
            }).map(el => el.textContent);
            if (document.documentElement.scrollWidth > edge) cut.push('the page scrolls sideways');
            return cut;
        }""")
        # the queue's filters and bulk action: each field's chosen option (or placeholder) shows whole
        cut += cut_fields(page, "form.filters select, form.filters input[type=search], .bulk-row select, "
                                ".bulk-row input[type=text]")
        assert cut == [], f"at {width} px wide: {cut}"
    page.set_viewport_size({"width": 1280, "height": 900})
    assert_accessible(page, "queue with a paused ticket")
    shots.take(page, "console-queue-paused")
