"""The reporter portal in a real browser: sign in by e-mail link, report, follow, answer, confirm; bugs, features;
accessibility on every page; and the attacks a web page invites (the Help button: test_portal_devices.py)."""

from __future__ import annotations

import re
import struct
import zlib

import httpx
import pytest
from pymongo import MongoClient

from bench.system import wait_until
from tests.browser.conftest import Person, assert_accessible

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def png(width: int = 64, height: int = 40) -> bytes:
    """Return a small valid PNG (a screenshot stand-in)."""
    raw = b"".join(b"\x00" + bytes([40, 90, 200]) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def keys(system):
    """API keys: Ada and Bob are reporters (their portal sign-in finds the same identity), Ann is an agent."""
    return {"ada": system.create_key("reporter", "Ada Lovelace", "ada@example.com"),
            "bob": system.create_key("reporter", "Bob Builder", "bob@example.com"),
            "ann": system.create_key("agent", "Ann Agent", "ann@support.example.com")}


@pytest.fixture
def ada(browser, system, mailbox, keys):
    person = Person(browser, system, mailbox, "ada@example.com", "Ada Lovelace", key=keys["ada"])
    yield person
    assert person.dialogs == [], f"a script ran in the page: {person.dialogs}"
    person.close()


@pytest.fixture
def bob(browser, system, mailbox, keys):
    person = Person(browser, system, mailbox, "bob@example.com", "Bob Builder", key=keys["bob"], timezone="America/New_York")
    yield person
    assert person.dialogs == [], f"a script ran in the page: {person.dialogs}"
    person.close()


@pytest.fixture
def agent(system, keys):
    from tests.e2e.api import Api
    return Api(system.url("intake"), keys["ann"])


def report_issue(page, title: str, *, severity: str = "medium", screenshot: bool = True) -> str:
    """Fill Report Issue (with a screenshot) and submit; return the new ticket's number."""
    page.goto(page.url.split("/", 3)[0] + "//" + page.url.split("/", 3)[2] + "/report")
    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_label("Type").select_option("access")
    page.locator(f"#sev-{severity}").check()
    page.get_by_label("Description", exact=True).fill("The login page says my account is locked.")
    page.get_by_label("Steps to reproduce").fill("1. Open /login\n2. Enter my password")
    page.get_by_label("What were you trying to do?").fill("Log in")
    page.get_by_label("How many users are affected?").fill("3")
    if screenshot:
        page.get_by_label("Screenshots and files").set_input_files(
            files=[{"name": "locked.png", "mimeType": "image/png", "buffer": png()}])
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url(re.compile(r"/tickets/INC-\d+\?created=1$"))
    return re.search(r"(INC-\d+)", page.url).group(1)


def test_sign_in_with_the_emailed_link_and_the_link_works_once(ada, shots):
    page = ada.open("/")
    page.wait_for_url(re.compile(r"/sign-in\?next=/tickets"))
    assert_accessible(page, "sign-in")
    shots.take(page, "sign-in")
    link = ada.request_link()
    assert_accessible(page, "check your e-mail")
    page.goto(link)
    assert_accessible(page, "link confirmation")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/tickets$"))
    page.get_by_role("heading", name="My Tickets").wait_for()
    cookie = next(c for c in ada.context.cookies() if c["name"] == "incidents_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]  # http here; Secure on https
    page.goto(link)
    page.get_by_role("heading", name="This sign-in link was already used").wait_for()
    assert page.get_by_role("button", name="E-mail me a new link").is_visible(), "the page says what to do"
    assert_accessible(page, "used link")


def test_an_expired_link_is_refused_with_a_page_that_says_what_to_do(browser, system, mailbox, keys):
    person = Person(browser, system, mailbox, "ada@example.com", "Ada", key=keys["ada"])
    try:
        person.open("/sign-in")
        link = person.request_link()
        from services.intake.adapters.sign_in_tokens import digest
        token = link.split("token=")[1]
        with MongoClient(system.mongodb_url, tz_aware=True) as client:  # fifteen minutes pass
            tokens = client[system.mongodb_db]["sign_in_tokens"]
            stored = tokens.find_one({"_id": digest(token)})
            tokens.update_one({"_id": stored["_id"]}, {"$set": {"expires_at": stored["created_at"]}})
        person.page.goto(link)
        person.page.get_by_role("heading", name="This sign-in link has expired").wait_for()
        assert "Ask for a new one below" in person.page.content()
        assert person.page.get_by_role("button", name="E-mail me a new link").is_visible()
    finally:
        person.close()


def test_report_with_a_screenshot_then_triage_severity_and_tier_appear_by_themselves(ada, shots):
    ada.sign_in("/report")
    page = ada.page
    assert_accessible(page, "report issue")
    page.locator("#sev-critical").check()
    assert page.get_by_role("heading", name="Critical? Tell us now, too").is_visible()
    assert "1-800-CYBER-911" in page.locator("[data-critical-banner]").inner_text()
    assert_accessible(page, "report issue with the critical banner")
    shots.take(page, "report-issue")
    number = report_issue(page, "Cannot log in after the password change", severity="high")
    banner = page.get_by_role("status").filter(has_text=f"Ticket {number} is open")
    said = banner.inner_text()  # the reporter's severity, or triage's if it already decided
    assert re.search(r"Severity: (Critical|High|Medium|Low) \(Severity [1-4]\)", said), said
    assert re.search(r"Expect a first response within (15 minutes|1 hour|4 hours|1 business day)", said), said
    page.locator("#ticket-live").get_by_text("Tier ").first.wait_for()   # triage's tier, without a reload
    wait_until(lambda: "Response due" in page.locator("#ticket-live").inner_text(), "triage and the clocks shown", 30,
               0.5)
    live = page.locator("#ticket-live").inner_text()
    assert re.search(r"Tier\s+[1-4]", live) and "Response" in live
    image = page.locator("#ticket-live img[alt='locked.png']")
    image.wait_for()
    assert image.evaluate("img => img.naturalWidth") == 64, "the screenshot preview loads"
    times = page.locator("#ticket-live time").all_inner_texts()
    assert any("CET" in t or "GMT+1" in t or "CEST" in t for t in times), f"dates in the reader's time zone: {times}"
    assert_accessible(page, "ticket page")
    shots.take(page, "ticket-page")


def test_my_tickets_filters_are_kept_in_the_url(ada, shots):
    for severity, title in (("low", "Filter probe low"), ("critical", "Filter probe critical")):
        ada.api.report(title=title, severity=severity, type="performance")
    ada.sign_in("/tickets")
    page = ada.page
    wait_until(lambda: page.reload() or "Filter probe critical" in page.content(), "both tickets listed", 30, 0.5)
    assert_accessible(page, "my tickets")
    shots.take(page, "my-tickets")
    page.get_by_label("Type").select_option("performance")
    page.get_by_label("Severity").select_option("low")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"severity=low"))
    assert "type=performance" in page.url
    rows = page.locator("table.tickets tbody tr")
    assert rows.count() >= 1
    assert all("Filter probe critical" not in text for text in rows.all_inner_texts())
    page.reload()
    assert page.get_by_label("Severity").input_value() == "low", "the filter survives a reload (it is in the URL)"
    page.goto(ada.base + "/tickets?severity=high&type=security&from=2020-01-01&to=2020-01-02")
    page.get_by_text("No tickets match these filters.").wait_for()
    assert_accessible(page, "my tickets, nothing matches")


def test_answer_an_information_request_then_confirm_the_fix(ada, agent, shots):
    number = ada.api.report(title="Export fails on big files", severity="medium")["number"]
    ada.api.wait_for(number, lambda t: t["severity"] is not None)
    ada.sign_in(f"/tickets/{number}")
    page = ada.page
    agent.post(f"/v1/tickets/{number}/acknowledge", expect=200)
    agent.post(f"/v1/tickets/{number}/status", {"status": "waiting_for_info", "reason": "Which browser do you use?"},
               expect=200)
    question = page.get_by_role("heading", name="Support needs your answer")
    question.wait_for(timeout=20_000)  # the page updates by itself
    assert "Which browser do you use?" in page.locator(".question").inner_text()
    wait_until(lambda: "paused: waiting for you" in page.locator("#ticket-live").inner_text().lower(), "clock paused", 20,
               0.5)
    assert_accessible(page, "ticket waiting for info")
    shots.take(page, "waiting-for-info")
    page.get_by_role("textbox", name="Your answer").fill("Firefox 128 on Linux")
    page.get_by_role("button", name="Send answer").click()
    page.get_by_text("Thank you: your answer was sent and work resumes.").wait_for()
    assert "In Progress" in page.locator("#ticket-live").inner_text()
    agent.post(f"/v1/tickets/{number}/resolve", {"proposed_solution": "Raised the export size limit."}, expect=200)
    page.get_by_role("heading", name="Is it fixed?").wait_for(timeout=20_000)
    assert "Raised the export size limit." in page.content()
    for name in ("Confirmed Fixed", "Still Has Issues", "Needs More Info"):
        assert page.get_by_role("button", name=name).is_visible()
    assert_accessible(page, "resolved ticket")
    shots.take(page, "resolved")
    page.get_by_role("button", name="Confirmed Fixed").click()
    page.get_by_text("Thank you: the ticket is closed.").wait_for()
    assert "Closed" in page.locator("#ticket-live").inner_text()
    assert ada.api.ticket(number)["status"] == "closed"


def test_bug_report_with_a_screenshot(ada):
    ada.sign_in("/report/bug")
    page = ada.page
    assert_accessible(page, "bug report")
    page.get_by_label("Title").fill("Save button does nothing")
    page.get_by_label("Expected behaviour").fill("The form is saved")
    page.get_by_label("Actual behaviour").fill("Nothing happens")
    page.get_by_label("Anything else?").fill("Since Monday, in every browser")
    page.get_by_label("Screenshot").set_input_files(files=[{"name": "bug.png", "mimeType": "image/png",
                                                          "buffer": png()}])
    page.get_by_role("button", name="Submit bug report").click()
    page.wait_for_url(re.compile(r"/tickets/INC-\d+\?created=1$"))
    content = page.content()
    assert "Expected behaviour" in content and "Nothing happens" in content and "Bug report" in content
    page.locator("#ticket-live img[alt='bug.png']").wait_for()


def test_a_form_with_missing_fields_says_what_to_fix_and_keeps_what_was_typed(ada):
    ada.sign_in("/report")
    page = ada.page
    page.get_by_label("Title", exact=True).fill("ab")
    page.get_by_label("Type").select_option("access")
    page.get_by_label("Description", exact=True).fill("Too short a title")
    page.get_by_role("button", name="Submit").click()
    page.get_by_role("heading", name="Please check the form").wait_for()
    assert page.get_by_label("Title", exact=True).input_value() == "ab"
    assert page.get_by_label("Description", exact=True).input_value() == "Too short a title"
    assert page.locator("#f-title").get_attribute("aria-invalid") == "true"
    assert_accessible(page, "report issue with errors")


def test_feature_request_search_file_and_vote_once(ada, bob, shots):
    ada.sign_in("/feature-requests")
    page = ada.page
    page.get_by_label("Feature", exact=True).fill("Dark mode for the dashboard")
    page.get_by_label("Describe it").fill("A dark colour scheme")
    page.get_by_label("Use case").fill("Night shifts in the operations centre")
    page.get_by_label("How important is it to you?").select_option("high")
    page.get_by_role("button", name="Submit request").click()
    page.wait_for_url(re.compile(r"/tickets/INC-\d+\?created=1$"))
    number = re.search(r"(INC-\d+)", page.url).group(1)

    bob.sign_in("/feature-requests")
    search = bob.page.get_by_label("Search requests")
    search.fill("dark mode")
    bob.page.wait_for_url(re.compile(r"q=dark"))  # the search came back (htmx pushes it to the URL)
    item = bob.page.locator(f"#fr-{number}")
    item.wait_for()
    assert_accessible(bob.page, "feature requests")
    assert item.locator(".count").inner_text() == "0"
    item.get_by_role("button", name=re.compile("Vote for")).click()
    wait_until(lambda: bob.page.locator(f"#fr-{number} .count").inner_text() == "1", "the vote counted", 15, 0.3)
    assert bob.page.locator(f"#fr-{number}").get_by_text("You voted").is_visible()
    assert bob.page.locator(f"#fr-{number}").get_by_role("button").count() == 0, "one vote per person"
    shots.take(bob.page, "feature-requests")
    bob.page.reload()
    assert bob.page.locator(f"#fr-{number} .count").inner_text() == "1"
    response = bob.page.request.post(f"{bob.base}/feature-requests/{number}/vote",
                                     form={"csrf_token": csrf_of(bob.page), "q": ""})
    assert response.ok
    assert bob.api.get("/v1/feature-requests").json()[0]["votes"] >= 1
    assert [f["votes"] for f in bob.api.get("/v1/feature-requests").json() if f["number"] == number] == [1]


def csrf_of(page) -> str:
    return page.locator("input[name=csrf_token]").first.get_attribute("value")


def test_keyboard_alone_signs_in_and_reports(browser, system, mailbox, keys):
    person = Person(browser, system, mailbox, "ada@example.com", "Ada", key=keys["ada"])
    try:
        page = person.open("/sign-in")
        keyboard = page.keyboard

        def tab_to(selector: str, limit: int = 60) -> None:
            for _ in range(limit):
                keyboard.press("Tab")
                if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
                    return
            raise AssertionError(f"{selector} is not reachable with Tab")

        before = len(person.mailbox.messages())
        tab_to("#email")
        keyboard.type(person.email)
        keyboard.press("Enter")
        page.get_by_role("heading", name="Check your e-mail").wait_for()
        body = person.link_mail(before).get_body(("plain",)).get_content()
        page.goto(re.search(r"(https?://\S+/sign-in/link\?token=\S+)", body).group(1))
        tab_to("button[type=submit]:not(.link)")
        keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/tickets$"))
        page.goto(person.base + "/report")
        tab_to("#f-title")
        keyboard.type("Typed with the keyboard only")
        tab_to("#f-type")
        keyboard.press("ArrowDown")
        tab_to("#sev-medium")
        keyboard.press("ArrowDown")  # moves the radio choice to Low
        tab_to("#f-description")
        keyboard.type("Every field is reachable without a mouse")
        tab_to("button[type=submit]:not(.link)")
        keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/tickets/INC-\d+\?created=1$"))
        assert "Low (Severity 4)" in page.get_by_role("status").first.inner_text()
    finally:
        person.close()


# -- attacks --------------------------------------------------------------------------------------------------


def test_a_form_posted_without_its_csrf_token_is_refused(ada):
    number = ada.api.report(title="CSRF probe")["number"]
    ada.sign_in(f"/tickets/{number}")
    forged = ada.page.request.post(f"{ada.base}/tickets/{number}/comments", form={"body": "posted by another site"})
    assert forged.status == 403 and "This form has expired" in forged.text()
    wrong = ada.page.request.post(f"{ada.base}/tickets/{number}/comments",
                                  form={"body": "guessed token", "csrf_token": "0" * 40})
    assert wrong.status == 403
    assert "posted by another site" not in str(ada.api.ticket(number)["timeline"])
    assert "guessed token" not in str(ada.api.ticket(number)["timeline"])
    sign_out = ada.page.request.post(f"{ada.base}/sign-out", form={})
    assert sign_out.status == 403, "even signing out needs the token (no logout CSRF)"


def test_a_script_title_and_an_html_comment_render_inert(ada):
    ada.sign_in("/report")
    page = ada.page
    number = report_issue(page, "<script>alert(1)</script>", screenshot=False)
    assert page.get_by_role("heading", level=1).inner_text().endswith("<script>alert(1)</script>")
    page.get_by_label("Comment", exact=True).fill('<img src=x onerror="alert(2)"> **bold** [link](javascript:alert(3))')
    page.get_by_role("button", name="Add comment").click()
    page.get_by_text("Your comment was added.").wait_for()
    assert page.locator("img[src='x']").count() == 0 and page.locator("a[href^='javascript']").count() == 0
    assert page.get_by_text('<img src=x onerror="alert(2)"> **bold**', exact=False).count() >= 1
    page.goto(ada.base + "/tickets")
    assert page.get_by_text("<script>alert(1)</script>").count() >= 1
    assert ada.dialogs == []
    assert number


def test_another_reporters_ticket_page_is_404(ada, bob):
    number = ada.api.report(title="Private to Ada")["number"]
    bob.sign_in("/tickets")
    response = bob.page.goto(f"{bob.base}/tickets/{number}")
    assert response.status == 404
    assert "Private to Ada" not in bob.page.content()
    bob.page.get_by_role("heading", name="No such ticket").wait_for()
    assert_accessible(bob.page, "not found page")
    for path in (f"/tickets/{number}/live", f"/tickets/{number}/attachments/01ARZ3NDEKTSV4RRFFQ69G5FAV"):
        assert bob.page.request.get(bob.base + path).status == 404
    assert bob.page.request.post(f"{bob.base}/tickets/{number}/comments",
                                 form={"body": "not mine", "csrf_token": csrf_of(bob.page)}).status == 404
    assert "not mine" not in str(ada.api.ticket(number)["timeline"])


def test_signing_out_ends_the_session_on_the_server(ada):
    ada.sign_in("/tickets")
    session = next(c for c in ada.context.cookies() if c["name"] == "incidents_session")["value"]
    ada.page.get_by_role("button", name="Sign out").click()
    ada.page.get_by_text("You are signed out.").wait_for()
    replay = httpx.get(ada.base + "/tickets", cookies={"incidents_session": session}, follow_redirects=False)
    assert replay.status_code == 303 and replay.headers["location"].startswith("/sign-in"), "the old cookie is dead"
