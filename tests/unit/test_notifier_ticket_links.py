"""Every notification e-mail links to its ticket's page on the portal (PORTAL_URL)."""

from __future__ import annotations

import pytest
from jinja2 import meta

from services.notifier.adapters.templates import TEMPLATE_DIR, TemplateRenderer

MESSAGES = sorted({p.name.split(".")[0] for p in TEMPLATE_DIR.glob("*.email.txt.j2")} - {"digest", "handoff_notice"})
"""A digest and a hand-off notice are about many tickets: each line links to its own (tested below)."""


@pytest.mark.parametrize("message", MESSAGES)
def test_each_email_links_to_the_ticket_page(message):
    renderer = TemplateRenderer(portal_url="https://support.example.com/")
    for fmt in ("txt", "html"):
        path = TEMPLATE_DIR / f"{message}.email.{fmt}.j2"
        if not path.exists():
            continue
        names = meta.find_undeclared_variables(renderer._env.parse(path.read_text())) - {"portal_url"}
        context = {name: f"<{name}>" for name in names} | {"number": "INC-000042", "attempt": 2, "max_attempts": 3}
        rendered = renderer.render(message, "email", fmt, context)
        assert "https://support.example.com/tickets/INC-000042" in rendered, f"{path.name} has no ticket link"


def test_a_handoff_notice_links_each_ticket_it_lists():
    renderer = TemplateRenderer(portal_url="https://support.example.com")
    tickets = [{"number": "INC-000042", "severity": "high", "status": "open", "standing": "at_risk", "title": "Down"}]
    rendered = renderer.render("handoff_notice", "email", "txt", {
        "person_name": "Ada", "team": "technical-support", "schedule": "primary", "start": "09:00", "end": "17:00",
        "open_count": 1, "overdue_count": 0, "at_risk_count": 1, "tickets": tickets})
    assert "https://support.example.com/tickets/INC-000042" in rendered
