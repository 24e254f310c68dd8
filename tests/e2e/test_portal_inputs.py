"""No input to a portal page produces a 5xx: odd query strings, forms, files and methods, signed in and not."""

from __future__ import annotations

import re
from urllib.parse import quote

import httpx
import pytest

from bench.system import wait_until

pytestmark = pytest.mark.e2e

ODD = ["", "x" * 5000, "../../etc/passwd", "%00", "\u202e\u0000", "INC-999999999999999999", "<script>", "1e309",
       "9999-12-31", "0000-00-00", "-1", "[]", "{}"]


@pytest.fixture(scope="module")
def signed_in(system, mailbox):
    """An httpx client signed in to the portal with the link from the mailbox, and its CSRF token."""
    box, _ = mailbox
    client = httpx.Client(base_url=system.url("intake"), timeout=15, follow_redirects=False)
    page = client.get("/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    before = len(box.messages())
    client.post("/sign-in", data={"csrf_token": token, "email": "odd@example.com", "next": "/tickets"})
    mail = wait_until(lambda: next((m for m in box.messages()[before:] if "odd@example.com" in str(m["To"])), None),
                      "the sign-in e-mail", 30)
    link = re.search(r"/sign-in/link\?token=(\S+)", mail.get_body(("plain",)).get_content()).group(1)
    used = client.post("/sign-in/link", data={"csrf_token": token, "token": link})
    assert used.status_code == 303
    number = client.post("/report", data={"csrf_token": token, "title": "Odd inputs", "type": "data",
                                          "description": "probe"}).headers["location"].split("/")[2].split("?")[0]
    yield client, token, number
    client.close()


def test_odd_query_strings_never_fail(signed_in):
    client, _, number = signed_in
    for value in ODD:
        for path, name in (("/tickets", "status"), ("/tickets", "from"), ("/tickets", "to"), ("/tickets", "cursor"),
                           ("/feature-requests", "q"), ("/sign-in", "next"), ("/sign-in/link", "token"),
                           (f"/tickets/{number}/live", "shown_status"), ("/embed", "next")):
            response = client.get(path, params={name: value})
            assert response.status_code < 500, (path, name, value, response.status_code)
        for path in (f"/tickets/{quote(value)}", f"/tickets/{number}/attachments/{quote(value)}"):
            assert client.get(path).status_code < 500, path


def test_odd_forms_never_fail(signed_in):
    client, token, number = signed_in
    fields = ("title", "type", "severity", "description", "users_affected", "started_at", "tz_offset", "production",
              "importance", "feedback", "requested_severity", "reason", "body", "comment", "email", "next", "token")
    for path in ("/report", "/report/bug", "/feature-requests", f"/tickets/{number}/comments",
                 f"/tickets/{number}/feedback", f"/tickets/{number}/priority-bump", f"/tickets/{number}/attachments",
                 "/feature-requests/INC-000001/vote", "/sign-in", "/sign-in/link", "/embed/sign-in"):
        for value in ODD:
            response = client.post(path, data={"csrf_token": token, **{f: value for f in fields}})
            assert response.status_code < 500, (path, value, response.status_code, response.text[:300])
        for body, content_type in ((b"\xff\xfe\x00", "application/x-www-form-urlencoded"),
                                   (b"--x\r\nbroken", "multipart/form-data; boundary=x"),
                                   (b'{"csrf_token": 1}', "application/json"), (b"", "text/plain")):
            response = client.post(path, content=body, headers={"content-type": content_type,
                                                                "X-CSRF-Token": token})
            assert response.status_code < 500, (path, content_type, response.status_code)
    files = [("files", (name, b"data", kind)) for name, kind in (("../../x.png", "image/png"), ("a.html", "text/html"),
                                                                 ("", "image/png"), ("e.png", ""))]
    response = client.post(f"/tickets/{number}/attachments", data={"csrf_token": token}, files=files)
    assert response.status_code < 500
    many = [("files", (f"f{n}.txt", b"x", "text/plain")) for n in range(60)]
    assert client.post("/report", data={"csrf_token": token, "title": "Many files", "type": "data",
                                        "description": "d"}, files=many).status_code < 500


def test_an_admin_revoking_a_person_ends_their_portal_sessions(system, signed_in):
    client, _, _ = signed_in
    assert client.get("/tickets").status_code == 200
    admin = httpx.Client(base_url=system.url("intake"), timeout=15,
                         headers={"Authorization": f"Bearer {system.create_key('admin', 'Ada Admin')}"})
    person = next(k for k in admin.get("/v1/admin/keys").json() if k["email"] == "odd@example.com")
    assert admin.post(f"/v1/admin/users/{person['principal_id']}/revoke").status_code == 200
    after = client.get("/tickets")
    assert after.status_code == 303 and after.headers["location"].startswith("/sign-in"), "signed out everywhere"
