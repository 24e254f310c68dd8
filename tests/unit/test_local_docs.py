"""/docs works with the internet down: Swagger UI's assets are served by the service itself."""

import re

import httpx
from fastapi import FastAPI

from shared.http import install_local_docs


async def test_docs_page_loads_every_asset_from_the_service_itself():
    app = FastAPI(docs_url=None, redoc_url=None)
    install_local_docs(app, "probe")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        page = await client.get("/docs")
        assert page.status_code == 200
        outside = re.findall(r"https?://[^\s'\"<>)]+", page.text)
        assert outside == [], f"/docs names outside hosts: {outside}"
        assets = re.findall(r"(?:src|href)=['\"]?(/[^'\" >]+)", page.text)
        assert {"/docs-assets/swagger-ui-bundle.js", "/docs-assets/swagger-ui.css"} <= set(assets)
        for asset in assets:
            response = await client.get(asset)
            assert response.status_code == 200, asset
            assert response.content, asset
        assert '"validatorUrl": null' in page.text
