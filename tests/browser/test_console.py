"""The support console in a real browser: an agent works the most urgent ticket to resolution while the reporter
answers from the portal; two agents at once; bulk actions; the SLA dashboard against the report; internal notes
that stay internal; features, keys and escalation (who may not see the console, accessibility on every page, times
and screen widths: test_console_pages.py)."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta

import pytest

from bench.system import wait_until
from services.intake.entrypoints import portal_format as fmt
from tests.browser.conftest import Person, assert_accessible
from tests.e2e.api import Api

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

AGENT, OTHER_AGENT, ADMIN = "ann@support.example.com", "carl@support.example.com", "root@support.example.com"
REPORTER = "rita@example.com"


@pytest.fixture(scope="module")
def system_env(host_port) -> dict[str, str]:
    """Sign-in limits that fit many sign-ins; the console's live parts refresh every 2 s so the tests wait little."""
    return {"WIDGET_ORIGINS": f"http://127.0.0.1:{host_port}", "SIGN_IN_PER_IP_PER_HOUR": "500",
            "SIGN_IN_PER_ADDRESS_PER_HOUR": "50", "CONSOLE_REFRESH_SECONDS": "2"}


@pytest.fixture(scope="module")
def keys(system):
    """Ann and Carl are agents, Root an admin, Rita a reporter (each signs in to the portal as that identity)."""
    return {"ann": system.create_key("agent", "Ann Agent", AGENT),
            "carl": system.create_key("agent", "Carl Agent", OTHER_AGENT),
            "root": system.create_key("admin", "Root Admin", ADMIN),
            "rita": system.create_key("reporter", "Rita Reporter", REPORTER)}


def person(browser, system, mailbox, keys, who: str, email: str, name: str) -> Person:
    """Return someone in a browser context of their own, with an API client under their key."""
    return Person(browser, system, mailbox, email, name, key=keys[who])


@pytest.fixture
def ann(browser, system, mailbox, keys):
    p = person(browser, system, mailbox, keys, "ann", AGENT, "Ann Agent")
    yield p
    assert p.dialogs == [], f"a script ran in the page: {p.dialogs}"
    p.close()


@pytest.fixture
def carl(browser, system, mailbox, keys):
    p = person(browser, system, mailbox, keys, "carl", OTHER_AGENT, "Carl Agent")
    yield p
    p.close()


@pytest.fixture
def root(browser, system, mailbox, keys):
    p = person(browser, system, mailbox, keys, "root", ADMIN, "Root Admin")
    yield p
    p.close()


@pytest.fixture
def rita(browser, system, mailbox, keys):
    p = person(browser, system, mailbox, keys, "rita", REPORTER, "Rita Reporter")
    yield p
    assert p.dialogs == [], f"a script ran in the page: {p.dialogs}"
    p.close()


def triaged(api: Api, number: str) -> dict:
    """Wait until triage set the ticket's severity and tier and its clocks run; return it."""
    return api.wait_for(number, lambda t: t.get("severity") is not None and t.get("tier") is not None)


def live_text(page) -> str:
    """Return the text of the workbench's self-refreshing part."""
    return page.locator("#workbench-live").inner_text()


def test_an_agent_takes_the_most_urgent_ticket_asks_gets_the_answer_and_resolves(ann, rita, shots):
    """The first test of the module, so the queue holds only what it reports: the critical ticket leads."""
    low = rita.api.report(title="Typo on the invoice footer", severity="low", type="data")["number"]
    urgent = rita.api.report(title="Checkout is down for every customer", severity="critical", type="infrastructure",
                             production=True, users_affected=500)["number"]
    assert [triaged(rita.api, n)["severity"] for n in (low, urgent)] == ["low", "critical"], "triage agreed"

    ann.sign_in("/console")
    page = ann.page
    first = page.locator("#queue tbody tr").first
    first.wait_for()
    assert urgent in first.inner_text(), "the critical ticket's clock has the least time left: it comes first"
    assert "Critical" in first.inner_text() and re.search(r"\d+[ \u00a0]?(min|m|h)", first.locator(".countdown").inner_text())
    assert_accessible(page, "console queue")
    shots.take(page, "console-queue")

    first.get_by_role("link", name=urgent).click()
    page.wait_for_url(re.compile(rf"/console/tickets/{urgent}$"))
    assert_accessible(page, "ticket workbench")
    page.get_by_role("button", name="Acknowledge").click()
    page.get_by_text("Acknowledged: the response clock stopped.").wait_for()
    assert rita.api.ticket(urgent)["status"] == "in_progress"

    page.locator("summary", has_text="Ask the reporter for information").click()
    page.get_by_label("Question for the reporter").fill("Which payment provider do the failing checkouts use?")
    page.get_by_role("button", name="Ask the reporter").click()
    page.get_by_text("The question was sent to the reporter; the SLA clocks are paused.").wait_for()
    wait_until(lambda: re.search(r"Resolution: paused", live_text(page)), "the resolution clock shown paused", 30, 0.5)
    assert "Waiting for Info" in live_text(page)
    shots.take(page, "console-ticket")

    rita.sign_in(f"/tickets/{urgent}")  # the reporter, in a browser of her own
    assert "Which payment provider" in rita.page.locator(".question").inner_text()
    rita.page.get_by_role("textbox", name="Your answer").fill("All of them go through Stripe.")
    rita.page.get_by_role("button", name="Send answer").click()
    rita.page.get_by_text("Thank you: your answer was sent and work resumes.").wait_for()

    # the agent's page shows the answer and the running clock by itself, then offers the moves that fit
    wait_until(lambda: "All of them go through Stripe." in live_text(page), "the answer on the workbench", 30, 0.5)
    wait_until(lambda: "The status is now In Progress" in live_text(page), "the new status announced", 30, 0.5)
    page.get_by_role("link", name="reload").click()
    wait_until(lambda: re.search(r"Resolution: \S.* left", live_text(page)) and "Resolution: paused" not in
               live_text(page), "the resolution clock running again", 30, 0.5)
    page.locator("summary", has_text="Propose a resolution").click()
    page.get_by_label("Proposed solution").fill("Rotated the expired Stripe API key.")
    page.get_by_role("button", name="Propose resolution").click()
    page.get_by_text("The solution was proposed; the reporter is asked to confirm it.").wait_for()
    ticket = rita.api.ticket(urgent)
    assert ticket["status"] == "resolved" and ticket["resolution"]["proposed_solution"] == "Rotated the expired Stripe API key."
    assert_accessible(page, "resolved ticket on the workbench")


def test_a_second_agents_conflicting_change_is_shown_and_nothing_is_lost(ann, carl, rita, shots):
    number = rita.api.report(title="Reports time out after the upgrade", severity="high", type="performance")["number"]
    triaged(rita.api, number)
    ann.sign_in(f"/console/tickets/{number}")
    # Ann's page stops refreshing (she is writing): what it shows is what she decides on
    ann.page.route(re.compile(r"/live\?"), lambda route: route.abort())
    carl.sign_in(f"/console/tickets/{number}")

    carl.page.get_by_role("button", name="Assign to me").click()
    carl.page.get_by_text("Assigned.").wait_for()

    ann.page.get_by_label("Text", exact=True).fill("Looking at the slow query log now.")
    ann.page.get_by_label("Public comment (the reporter sees it)").check()
    ann.page.get_by_role("button", name="Add", exact=True).click()
    conflict = ann.page.locator("#conflict")
    conflict.wait_for()
    said = conflict.inner_text()
    assert "Someone changed this ticket after you opened it" in said and "not applied" in said
    assert "Carl Agent" in said and re.search(r"[Aa]ssigned", said), said
    assert ann.page.get_by_label("Text", exact=True).input_value() == "Looking at the slow query log now.", \
        "what she wrote is kept"
    assert "Carl Agent" in live_text(ann.page), "the page now shows the ticket as it is"
    assert_accessible(ann.page, "workbench with a conflict")
    shots.take(ann.page, "console-conflict")

    comments = [e for e in rita.api.ticket(number)["timeline"] if "Looking at the slow query log" in str(e)]
    assert comments == [], "nothing was applied on the old picture"
    ann.page.get_by_role("button", name="Add", exact=True).click()  # she checked it: it still applies
    ann.page.get_by_text("Comment added.").wait_for()
    ticket = rita.api.ticket(number)
    comments = [e for e in ticket["timeline"] if "Looking at the slow query log" in str(e)]
    assert len(comments) == 1, "applied once"
    assert ticket["assignee"] == OTHER_AGENT, "Carl's assignment is still there"


def test_bulk_assign_from_the_queue_and_new_tickets_announced(ann, rita, keys, system, shots):
    numbers = [rita.api.report(title=f"Bulk probe {i}: sync stalls", severity="medium", type="data")["number"]
               for i in range(3)]
    for number in numbers:
        triaged(rita.api, number)
    ann.sign_in("/console?q=Bulk+probe")
    page = ann.page
    for number in numbers[:2]:
        page.get_by_label(f"Select {number}").check()
    page.get_by_label("Action").select_option("assign")
    page.get_by_role("group", name="Bulk action on the selected tickets").get_by_label("Assignee").select_option(
        OTHER_AGENT)
    page.get_by_role("button", name="Apply to selected").click()
    banner = page.get_by_role("status").filter(has_text="Bulk action")
    banner.wait_for()
    assert re.search(r"2 assigned to carl@support\.example\.com, 0 skipped, 0 refused", banner.inner_text())
    assert [rita.api.ticket(n).get("assignee") for n in numbers] == [OTHER_AGENT, OTHER_AGENT, None]
    assert "q=Bulk" in page.url or page.get_by_label("Search").input_value() == "Bulk probe"
    assert_accessible(page, "queue after a bulk action")

    page.goto(ann.base + "/console?q=Bulk+probe")
    newer = rita.api.report(title="Bulk probe 3: a newcomer", severity="low", type="data")["number"]
    page.get_by_text(re.compile(r"1 new ticket arrived")).wait_for(timeout=30_000)  # the queue refreshes itself
    assert newer in page.locator("#queue tr.is-new").inner_text()


def test_the_sla_dashboard_shows_the_figures_of_the_report(ann, rita, keys, system, shots):
    agent = Api(system.url("intake"), keys["ann"])
    number = rita.api.report(title="Password reset mail never arrives", severity="medium", type="access")["number"]
    triaged(rita.api, number)
    agent.post(f"/v1/tickets/{number}/acknowledge", expect=200)
    agent.post(f"/v1/tickets/{number}/resolve", {"proposed_solution": "Fixed the SPF record."}, expect=200)
    today = datetime.now(UTC).date()
    start = datetime.combine(today, datetime.min.time(), UTC)
    params = {"from": start.isoformat(), "to": (start + timedelta(days=1)).isoformat()}

    ann.sign_in(f"/console/sla?from={today.isoformat()}&to={today.isoformat()}")
    page = ann.page

    def figures_match() -> bool:
        rows = agent.get("/v1/reports/sla", params=params).json()["rows"]
        page.reload()
        shown = {}
        for row in page.locator("#sla-report tbody tr").all():
            cells = {c.get_attribute("data-figure"): c.inner_text().strip()
                     for c in row.locator("td[data-figure]").all()}
            shown[row.get_attribute("data-severity")] = cells
        expected = {}
        for r in rows:
            def pct(value):
                return "–" if value is None else f"{value:.1f}%"

            def dur(value):
                return "–" if value is None else fmt.duration(value)
            expected[r["severity"]] = {
                "tickets": str(r["tickets"]), "response": f"{r['response_met']} / {r['response_breached']}",
                "response_compliance": pct(r["response_compliance_percent"]),
                "resolution": f"{r['resolution_met']} / {r['resolution_breached']}",
                "resolution_compliance": pct(r["resolution_compliance_percent"]),
                "mtta": dur(r["mean_time_to_first_response_seconds"]),
                "mttr": dur(r["mean_time_to_resolution_seconds"])}
        figures_match.last = (expected, shown)
        measured = expected.get("medium", {}).get("resolution", "0 / 0") != "0 / 0"  # escalation measured it
        return expected == shown and measured

    wait_until(figures_match, lambda: f"the dashboard's figures equal the report's, with the resolution measured: "
               f"{figures_match.last}", 30, 1)
    expected, _ = figures_match.last
    assert int(expected["medium"]["tickets"]) >= 1
    assert page.locator("figure.chart svg[role=img]").count() == 3, "compliance over time (2) and time to resolution"
    medium = page.locator("details", has_text="The numbers").locator("tbody tr", has_text="Medium")
    resolved = sum(int(c) for c in medium.locator("td").all_text_contents())
    met, breached = (int(n) for n in expected["medium"]["resolution"].split(" / "))
    assert resolved == met + breached >= 1, "the distribution counts the report's resolutions"
    prom = page.get_by_role("link", name="PromQL").first.get_attribute("href")
    assert "/graph?" in prom or "query" in prom, prom
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    csv_text = open(download.value.path(), encoding="utf-8", newline="").read()
    api_csv = agent.get("/v1/reports/sla", params={**params, "format": "csv"}).text
    assert csv_text == api_csv, "the CSV is the report's"
    assert_accessible(page, "SLA dashboard")
    shots.take(page, "console-sla")


def test_an_internal_note_never_reaches_the_reporters_page_or_mail(ann, rita, mailbox):
    number = rita.api.report(title="Invoices show the wrong VAT", severity="medium", type="data")["number"]
    triaged(rita.api, number)
    secret = f"INTERNAL-{secrets.token_hex(6)}: customer is on the legacy plan, do not promise a refund"
    public = f"PUBLIC-{secrets.token_hex(6)}: we are correcting the VAT table"
    ann.sign_in(f"/console/tickets/{number}")
    page = ann.page
    page.get_by_label("Text", exact=True).fill(secret)
    page.get_by_label("Internal note (support only)").check()
    page.get_by_role("button", name="Add", exact=True).click()
    page.get_by_text("Internal note added.").wait_for()
    entry = page.locator("#workbench-live .timeline li.internal").filter(has_text=secret)
    assert entry.count() == 1 and "Internal" in entry.inner_text(), "the note is marked internal for support"
    page.get_by_label("Text", exact=True).fill(public)
    page.get_by_label("Public comment (the reporter sees it)").check()
    page.get_by_role("button", name="Add", exact=True).click()
    page.get_by_text("Comment added.").wait_for()

    mail = mailbox[0]
    mail.wait_for(lambda m: REPORTER in str(m["To"]) and public in m.get_body(("plain",)).get_content(), 60)
    for message in mail.messages():  # the public comment's mail came after the note's event was handled
        text = "".join(part.get_content() for part in message.walk() if part.get_content_type().startswith("text/"))
        assert secret not in text and "legacy plan" not in text, f"an internal note in a mail to {message['To']}"

    rita.sign_in(f"/tickets/{number}")
    wait_until(lambda: public in rita.page.content(), "the public comment on the reporter's page", 20, 0.5)
    assert secret not in rita.page.content() and "legacy plan" not in rita.page.content()
    live = rita.context.request.get(f"{rita.base}/tickets/{number}/live")
    assert live.status in (200, 404) and secret not in live.text()
    assert secret not in rita.api.get(f"/v1/tickets/{number}").text, "nor through the API"


def test_a_feature_decision_on_the_console_is_what_reporters_see(root, rita):
    number = rita.api.report(title="Export to Parquet", type="feature", kind="feature_request",
                             use_case="Our data lake reads Parquet", importance="medium")["number"]
    root.sign_in(f"/console/tickets/{number}")
    page = root.page
    page.locator("summary", has_text="Feature request status").click()
    page.get_by_label("Status reporters see").select_option("planned")
    page.get_by_role("button", name="Set status").click()
    page.get_by_text("Feature request status changed.").wait_for()
    page.goto(root.base + "/console/features?status=planned")
    assert number in page.locator("main").inner_text()
    rita.sign_in("/feature-requests")
    entry = rita.page.locator(f"#fr-{number}")
    entry.wait_for()
    assert "Planned" in entry.inner_text()


def test_an_admin_issues_and_revokes_a_key_and_sees_the_configuration_as_loaded(root, ann, system, shots):
    root.sign_in("/console/admin")
    page = root.page
    page.get_by_label("Role", exact=True).select_option("agent")
    page.get_by_label("Name", exact=True).fill("Dana Agent")
    page.get_by_label("E-mail", exact=True).fill("dana@support.example.com")
    page.get_by_role("button", name="Issue key").click()
    issued = page.locator("#issued-key")
    issued.wait_for()
    key = issued.locator("code.secret").inner_text().strip()
    key_id = issued.inner_text().split("Key id ")[1].split()[0]
    me = Api(system.url("intake"), key).get("/v1/me").json()
    assert me["role"] == "agent" and me["name"] == "Dana Agent", "the key works as issued"
    assert "Dana Agent" in page.locator("#people-heading + table").inner_text()
    page.get_by_role("button", name=f"Revoke key {key_id}").click()
    page.get_by_text("The key was revoked: its next request is refused.").wait_for()
    assert Api(system.url("intake"), key).get("/v1/me", expect=None).status_code == 401

    page.goto(root.base + "/console/admin/config")
    for service, title in (("triage", "Triage rules"), ("escalation", "Escalation policy"),
                           ("notifier", "Notification routing")):
        section = page.locator(f"section[aria-labelledby=cfg-{service}]")
        text = section.inner_text()
        assert title in text and "SHA-256" in text and "Not available" not in text, f"{service}: {text[:300]}"
    assert page.locator("section[aria-labelledby=cfg-triage] table tbody tr").count() >= 1, "the severity rules"

    ann.sign_in("/console")  # an agent works the queue but is no admin: the admin pages do not exist for her
    for path in ("/console/admin", "/console/admin/config"):
        assert ann.context.request.get(ann.base + path, max_redirects=0).status == 404, path


def test_an_agent_overrides_severity_and_escalates_and_the_path_shows_the_move(ann, rita):
    number = rita.api.report(title="Nightly sync drops some records", severity="medium", type="data")["number"]
    tier = triaged(rita.api, number)["tier"]
    assert tier < 4, "the rules file routes a medium data report to Tier 1-3, so there is a tier to escalate to"
    ann.sign_in(f"/console/tickets/{number}")
    page = ann.page
    page.locator("summary", has_text="Override severity").click()
    # lowered, not raised: a raise may make escalation move the tier by itself (policy), which the page
    # would then rightly show as a change made after the agent looked, refusing the escalation below
    page.get_by_label("New severity", exact=True).select_option("low")
    page.get_by_label("Reason for the new severity").fill("Only one report is late, nothing is lost")
    page.get_by_role("button", name="Change severity").click()
    page.get_by_text("Severity changed; new targets follow.").wait_for()
    assert "(set by an agent)" in live_text(page)
    assert rita.api.ticket(number)["severity"] == "low"

    page.locator("summary", has_text="Escalate").click()
    page.get_by_label("To tier").select_option(str(tier + 1))
    page.get_by_label("Reason for escalating").fill("Needs the database team")
    page.get_by_role("button", name="Escalate", exact=True).click()
    page.locator(".banner.ok, [role=alert]").first.wait_for()
    alerts = page.get_by_role("alert").all_inner_texts()
    assert not alerts, f"the escalation request was refused: {alerts}"
    page.get_by_text("Escalation requested; escalation moves the ticket.").wait_for()
    wait_until(lambda: f"Tier {tier} → Tier {tier + 1}" in live_text(page), "escalation's move on the workbench", 30,
               0.5)
    assert "Needs the database team" in live_text(page)
    current = rita.api.ticket(number)
    assert current["tier"] == tier + 1, "escalation made the move the agent asked for"
