"""A finished run in the console: its page verifies the record away from the event loop, and
a certificate is issued once per request (the issuing form carries a nonce recorded with the
issue, so a second click, two POSTs at once, gets the first certificate, never a second
number). A real run on the simulated balance, a real journal, the console's app over HTTP
(httpx against ASGI)."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
from pathlib import Path

import httpx
import pytest

from daq import integrity
from daq.journal import Journal
from daq.people import add_user
from daq.web.app import create_app
from tests.integration.test_run_identity import run_plan, touch_lab, touch_plan
from tests.unit.test_console_security import PASSWORD
from tests.unit.test_people import administrator_first


async def test_the_same_issuing_form_sent_twice_at_once_issues_one_certificate(
    tmp_path: Path,
) -> None:
    lab = touch_lab(tmp_path)
    document = await run_plan(lab, touch_plan("balance"))
    assert document.run.status == "completed", document.run.reason
    run_id = document.run.id
    async with Journal(lab.journal.path) as journal:
        await administrator_first(journal)
        await add_user(journal, "ha.tran", "authoriser", PASSWORD, full_name="Ha Tran",
                       function="Quality manager", by="test")  # fmt: skip
        app = create_app(lab, journal)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            login = await client.get("/login")
            token = re.search(r'name="csrf" value="([^"]+)"', login.text)
            assert token is not None
            await client.post("/login", data={"name": "ha.tran", "password": PASSWORD,
                                              "csrf": token[1]})  # fmt: skip
            shown = (await client.get(f"/runs/{run_id}")).text
            fields = dict(re.findall(r'name="(csrf|nonce)" value="([^"]+)"', shown))
            assert set(fields) == {"csrf", "nonce"}
            form = {**fields, "form": "json", "language": "en"}
            first, second = await asyncio.gather(
                client.post(f"/runs/{run_id}/certificates", data=form),
                client.post(f"/runs/{run_id}/certificates", data=form),
            )
            assert first.status_code == second.status_code == 303
            by_api = {"format": "json", "nonce": fields["nonce"]}
            again = await client.post(f"/api/runs/{run_id}/certificates", json=by_api,
                                      headers={"X-CSRF-Token": fields["csrf"]})  # fmt: skip
            assert again.status_code == 200
            [issued] = again.json()
            numbers = [c.number for c in await journal.all_certificates()]
            assert numbers == [issued["number"]]  # one certificate, the one the request made
            # a new form is a new request: a deliberate second issue is a re-issue
            shown = (await client.get(f"/runs/{run_id}")).text
            nonce = re.search(r'name="nonce" value="([^"]+)"', shown)
            assert nonce is not None and nonce[1] != fields["nonce"]
            reissued = await client.post(f"/runs/{run_id}/certificates",
                                         data={**form, "nonce": nonce[1]})  # fmt: skip
            assert reissued.status_code == 303
    with sqlite3.connect(lab.journal.path) as db:
        rows = db.execute("SELECT number, replaces FROM certificates ORDER BY rowid").fetchall()
    assert rows == [(issued["number"], ""), (f"{issued['number']}-R1", issued["number"])]


async def test_the_run_page_verifies_the_record_on_a_thread_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = touch_lab(tmp_path)
    document = await run_plan(lab, touch_plan("balance"))
    checked_on: list[int] = []
    checking = integrity.audit

    async def watched(*args: object) -> integrity.Audit:
        checked_on.append(threading.get_ident())  # where the hashing runs
        return await checking(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(integrity, "audit", watched)
    async with Journal(lab.journal.path) as journal:
        await administrator_first(journal)
        await add_user(journal, "an.nguyen", "operator", PASSWORD, full_name="An Nguyen",
                       function="", by="test")  # fmt: skip
        transport = httpx.ASGITransport(app=create_app(lab, journal))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            login = await client.get("/login")
            token = re.search(r'name="csrf" value="([^"]+)"', login.text)
            assert token is not None
            await client.post("/login", data={"name": "an.nguyen", "password": PASSWORD,
                                              "csrf": token[1]})  # fmt: skip
            shown = await client.get(f"/runs/{document.run.id}")
    assert shown.status_code == 200 and 'id="verify" class="ok"' in shown.text
    assert checked_on and threading.get_ident() not in checked_on
