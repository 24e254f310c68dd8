"""The portal without JavaScript, on a phone, with a pasted screenshot, and from a host page's Help button."""

from __future__ import annotations

import base64
import re

import httpx
import pytest

from tests.browser.conftest import Person, assert_accessible, cut_fields
from tests.browser.test_portal import keys, png  # noqa: F401 - the module's API keys fixture, shared

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_the_core_flows_work_without_javascript(browser, system, mailbox, keys):  # noqa: F811
    person = Person(browser, system, mailbox, "ada@example.com", "Ada", key=keys["ada"])
    person.context.close()
    person.context = browser.new_context(java_script_enabled=False)
    person.page = person.context.new_page()
    try:
        person.sign_in("/report")
        page = person.page
        page.get_by_label("Title", exact=True).fill("Reported without JavaScript")
        page.get_by_label("Type").select_option("performance")
        page.get_by_label("Description", exact=True).fill("Works with scripts off")
        page.get_by_label("Screenshots and files").set_input_files(
            files=[{"name": "plain.png", "mimeType": "image/png", "buffer": png()}])
        page.get_by_role("button", name="Submit").click()
        page.wait_for_url(re.compile(r"/tickets/INC-\d+\?created=1$"))
        number = re.search(r"(INC-\d+)", page.url).group(1)
        page.get_by_label("Comment", exact=True).fill("A comment with scripts off")
        page.get_by_role("button", name="Add comment").click()
        page.get_by_text("Your comment was added.").wait_for()
        assert "A comment with scripts off" in page.content()
        page.goto(person.base + "/tickets")
        assert page.get_by_role("link", name=number).is_visible()
    finally:
        person.close()


def test_readable_on_a_phone(browser, system, mailbox, keys, shots):  # noqa: F811
    person = Person(browser, system, mailbox, "ada@example.com", "Ada", key=keys["ada"])
    person.context.close()
    person.context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    person.page = person.context.new_page()
    try:
        person.api.report(title="Seen on a phone")
        person.sign_in("/tickets")
        page = person.page
        for path in ("/tickets", "/report", "/feature-requests"):
            page.goto(person.base + path)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px on a phone"
            cut = cut_fields(page, "main select, main input[type=search]")
            assert cut == [], f"{path} on a phone cuts the words of {cut}"
            assert_accessible(page, f"{path} on a phone")
        shots.take(page, "phone-feature-requests")
    finally:
        person.close()


def test_a_pasted_screenshot_is_attached(browser, system, mailbox, keys):  # noqa: F811
    person = Person(browser, system, mailbox, "ada@example.com", "Ada", key=keys["ada"])
    try:
        person.sign_in("/report/bug")
        page = person.page
        page.get_by_label("Title", exact=True).fill("Pasted a screenshot")
        page.get_by_label("Expected behaviour").fill("A chart")
        page.get_by_label("Actual behaviour").fill("An empty box")
        page.get_by_label("Anything else?").fill("See the screenshot")
        page.locator("form.card").evaluate("""(form, b64) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const data = new DataTransfer();
            data.items.add(new File([bytes], "image.png", {type: "image/png"}));
            form.dispatchEvent(new ClipboardEvent("paste", {clipboardData: data, bubbles: true}));
        }""", base64.b64encode(png()).decode())
        page.locator(".picked li").filter(has_text="pasted-").wait_for()
        page.get_by_role("button", name="Submit bug report").click()
        page.wait_for_url(re.compile(r"/tickets/INC-\d+\?created=1$"))
        page.locator("#ticket-live img[alt^='pasted-']").wait_for()
    finally:
        person.close()


def test_help_button_on_the_host_page_with_a_signed_token(browser, system, mailbox, example_host, shots):
    person = Person(browser, system, mailbox, "hosted@example.com", "Hana Hosted")
    try:
        page = person.open("/")  # a fresh browser: not signed in to the portal
        page.goto(example_host + "/")
        assert_accessible(page, "host page")
        page.get_by_role("button", name="Help").click()
        for name in ("Report Issue", "Bug Report", "Feature Request", "My Tickets"):
            assert page.get_by_role("menuitem", name=name).is_visible()
        page.get_by_role("menuitem", name="Report Issue").click()
        frame = page.frame_locator("iframe[title='Support portal']")
        frame.get_by_role("heading", name="Report an issue").wait_for()
        assert frame.get_by_text("Hana Hosted").is_visible(), "signed in as the host's user, no e-mail needed"
        shots.take(page, "help-button")
        frame.get_by_label("Title").fill("Reported from inside the host page")
        frame.get_by_label("Type").select_option("data")
        frame.get_by_label("Description", exact=True).fill("Charts show yesterday's numbers")
        frame.get_by_role("button", name="Submit").click()
        frame.get_by_text(re.compile(r"Ticket INC-\d+ is open")).wait_for()
        page.get_by_role("button", name="Close support panel").click()
        page.get_by_role("button", name="Help").click()
        page.get_by_role("menuitem", name="My Tickets").click()
        frame.get_by_text("Reported from inside the host page").wait_for()
    finally:
        person.close()


def test_help_button_without_a_token_falls_back_to_the_email_link(browser, system, mailbox, example_host):
    person = Person(browser, system, mailbox, "stranger@example.com", "Stranger")
    try:
        page = person.page
        page.goto(example_host + "/anonymous")
        page.get_by_role("button", name="Help").click()
        page.get_by_role("menuitem", name="Bug Report").click()
        frame = page.frame_locator("iframe[title='Support portal']")
        frame.get_by_role("heading", name="Sign in to Support").wait_for()
        before = len(person.mailbox.messages())
        frame.get_by_label("Your e-mail address").fill(person.email)
        frame.get_by_role("button", name=re.compile("E-mail me")).click()
        frame.get_by_role("heading", name="Check your e-mail").wait_for()
        assert person.link_mail(before) is not None
    finally:
        person.close()


def test_a_forged_host_token_signs_nobody_in(browser, system, mailbox, example_host):
    from services.intake.entrypoints.example_host import host_token
    response = httpx.post(system.url("intake") + "/embed/sign-in", follow_redirects=False, data={
        "token": host_token("not-the-shared-secret-0123456789abcdef", "ada@example.com", "Ada"), "next": "/tickets"})
    assert response.status_code == 401 and "incidents_session" not in response.headers.get("set-cookie", "")
    assert "Sign in with your e-mail instead" in response.text
