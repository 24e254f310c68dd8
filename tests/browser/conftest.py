"""Browser tests: Playwright driving Debian's Chromium against the four services running as processes.

Chromium comes from apt (`scripts/stack.sh infra` installs it; `playwright install` cannot download
browsers here). Under CI=true a missing browser fails the run; elsewhere the tests skip, saying why.
Screenshots go to a temporary directory always, and to PORTAL_SCREENSHOTS (e.g. docs/screenshots)
when that is set. Accessibility: axe-core (axe-playwright-python) on every page the flows visit.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.harness import IN_CI
from bench.system import free_port, wait_until
from tests.e2e.api import Api
from tests.e2e.conftest import mailbox, system  # noqa: F401 - the e2e fixtures, shared

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
BLOCKING_IMPACTS = ("serious", "critical")


@pytest.fixture(scope="module")
def browser():
    """Return Chromium driven by Playwright for one module; fail under CI=true when it is missing, else skip.

    Module scope on purpose: Playwright's sync API keeps an event loop running in this thread while it
    is open, and any asyncio test that ran after it would fail with "cannot be called from a running
    event loop"; closing it with the module (and running browser modules last) keeps the suite whole.
    """
    if not CHROMIUM.exists():
        reason = f"no Chromium at {CHROMIUM}: install it with `apt-get install chromium` (scripts/stack.sh infra does)"
        if IN_CI:
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def host_port() -> int:
    """Return the port the example host page of this module listens on."""
    return free_port()


@pytest.fixture(scope="module")
def system_env(host_port) -> dict[str, str]:
    """The portal may be framed by this module's example host; sign-in limits fit a test's many sign-ins."""
    return {"WIDGET_ORIGINS": f"http://127.0.0.1:{host_port}", "SIGN_IN_PER_IP_PER_HOUR": "500",
            "SIGN_IN_PER_ADDRESS_PER_HOUR": "50"}


@pytest.fixture(scope="module")
def example_host(system, host_port, tmp_path_factory) -> Iterator[str]:  # noqa: F811
    """Run `incidents example-host` (the page `make up` serves on 8090) against this system; return its URL."""
    log = open(tmp_path_factory.mktemp("host") / "example-host.log", "ab")  # noqa: SIM115 - owned by the process
    process = subprocess.Popen([sys.executable, "-m", "services.cli", "example-host", "--port", str(host_port),
                                "--email", "hosted@example.com", "--name", "Hana Hosted"],
                               env=system.env("intake"), stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{host_port}"
    try:
        import httpx

        def up() -> bool:
            try:
                return httpx.get(url + "/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, "the example host answers", 30)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> "Screenshots":
    """Return where screenshots go: a temporary directory, and PORTAL_SCREENSHOTS when set."""
    return Screenshots(tmp_path_factory.mktemp("screenshots"), os.environ.get("PORTAL_SCREENSHOTS"))


class Screenshots:
    """Saves full-page screenshots by name."""

    def __init__(self, directory: Path, extra: str | None) -> None:
        self.directory = directory
        self.extra = Path(extra) if extra else None

    def take(self, page, name: str) -> Path:
        path = self.directory / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if self.extra is not None:
            self.extra.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, self.extra / path.name)
        return path


CUT_FIELDS = """selector => {
    const pen = document.createElement('canvas').getContext('2d');
    const cut = [];
    for (const field of document.querySelectorAll(selector)) {
        const style = getComputedStyle(field);
        pen.font = style.font;
        const text = field.tagName === 'SELECT' ? field.options[field.selectedIndex].text : field.placeholder;
        const arrow = field.tagName === 'SELECT' ? 20 : 0;
        const room = field.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - arrow;
        if (pen.measureText(text).width > room) cut.push(`field "${text}"`);
    }
    return cut;
}"""


def cut_fields(page, selector: str) -> list[str]:
    """Return the fields matching selector whose chosen option (or placeholder) does not show whole."""
    return page.evaluate(CUT_FIELDS, selector)


def assert_accessible(page, what: str) -> None:
    """Fail if axe-core finds a serious or critical violation on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    blocking = [v for v in results.response["violations"] if v.get("impact") in BLOCKING_IMPACTS]
    assert not blocking, f"{what}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}" for v in blocking)


class Person:
    """Someone using the portal in their own browser context."""

    def __init__(self, browser, system, mailbox, email: str, name: str, *, key: str | None = None,  # noqa: F811
                 timezone: str = "Europe/Berlin") -> None:
        self.system = system
        self.mailbox = mailbox[0]
        self.email = email
        self.name = name
        self.context = browser.new_context(timezone_id=timezone, locale="en-GB", viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        self.api = Api(system.url("intake"), key) if key else None

    @property
    def base(self) -> str:
        return self.system.url("intake")

    def open(self, path: str):
        self.page.goto(self.base + path)
        return self.page

    def link_mail(self, after: int):
        """Return the newest sign-in e-mail to this person sent after the first `after` messages."""
        def newest():
            mine = [m for m in self.mailbox.messages()[after:]
                    if self.email in str(m["To"]) and "sign-in link" in str(m["Subject"])]
            return mine[-1] if mine else None
        return wait_until(newest, f"a sign-in e-mail to {self.email}", 30)

    def request_link(self) -> str:
        """Ask for a sign-in link on the page and return the link from the e-mail."""
        before = len(self.mailbox.messages())
        self.page.get_by_label("Your e-mail address").fill(self.email)
        self.page.get_by_role("button", name=re.compile("E-mail me")).click()
        self.page.get_by_role("heading", name="Check your e-mail").wait_for()
        body = self.link_mail(before).get_body(("plain",)).get_content()
        return re.search(r"(https?://\S+/sign-in/link\?token=\S+)", body).group(1)

    def sign_in(self, path: str = "/tickets") -> None:
        """Sign in with the link from the mailbox, arriving at path."""
        self.open(path)
        link = self.request_link()
        self.page.goto(link)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(re.compile(re.escape(path) + r"$"))

    def close(self) -> None:
        self.context.close()
