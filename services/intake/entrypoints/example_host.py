"""An example host platform page with the Help button, served by `make up` on port 8090 (`incidents example-host`).

It stands for the platform that embeds the support widget: `/` signs a fresh token for its demo
user with the shared WIDGET_SECRET (as a real host does on its server, for its signed-in user),
`/anonymous` embeds the button without a token (the portal then asks for an e-mail address).
"""

from __future__ import annotations

import html
import secrets
import time

import jwt
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from services.intake.service_layer.sign_in import HOST_TOKEN_AUDIENCE

TOKEN_SECONDS = 300


def host_token(secret: str, email: str, name: str, now: float | None = None) -> str:
    """Return the HS256 token a host signs for its signed-in user: email, name, a unique jti, 5 minutes of life."""
    issued = int(now if now is not None else time.time())
    return jwt.encode({"email": email, "name": name, "aud": HOST_TOKEN_AUDIENCE, "iat": issued,
                       "exp": issued + TOKEN_SECONDS, "jti": secrets.token_urlsafe(16)}, secret, algorithm="HS256")


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Acme Analytics (example host page)</title>
<style>body{{margin:0;font:16px system-ui,sans-serif;color:#1b2430;background:#f4f6f9}}
header{{background:#13233f;color:#fff;padding:14px 24px;font-weight:700}}main{{max-width:900px;margin:24px auto;padding:0 16px}}
.tile{{background:#fff;border:1px solid #d5dbe3;border-radius:10px;padding:16px;margin-bottom:16px}}</style>
</head><body>
<header>Acme Analytics</header>
<main>
<h1>Dashboard</h1>
<div class="tile"><h2>{heading}</h2><p>{explain}</p></div>
<div class="tile"><p>This page stands for your platform. The Help button at the bottom right comes from one
<code>&lt;script&gt;</code> tag served by the support portal at <code>{portal}</code>.</p></div>
</main>
<script src="{portal}/static/widget.js" {token_attribute} defer></script>
</body></html>"""


def build_app(portal_url: str, secret: str, email: str, name: str) -> FastAPI:
    """Return the example host: `/` with a signed-in user, `/anonymous` without."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/", response_class=HTMLResponse)
    async def signed_in() -> str:
        token = host_token(secret, email, name)
        return PAGE.format(portal=html.escape(portal_url), token_attribute=f'data-user-token="{html.escape(token)}"',
                           heading=f"Signed in as {html.escape(name)} &lt;{html.escape(email)}&gt;",
                           explain="Help opens the portal already signed in: this page signed a token for you.")

    @app.get("/anonymous", response_class=HTMLResponse)
    async def anonymous() -> str:
        return PAGE.format(portal=html.escape(portal_url), token_attribute="", heading="Not signed in",
                           explain="Help opens the portal, which asks for your e-mail address and sends a sign-in link.")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
