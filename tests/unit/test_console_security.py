"""The console's gate, through its HTTP interface (httpx against the ASGI app): what is open
without a login, sessions and their timeout, the CSRF token on every change, rights by
role, throttled logins, body limits and ids checked before anything is looked up."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi import FastAPI

from daq.config import LabConfig, default_lab_text, parse_lab
from daq.journal import Journal
from daq.people import add_user
from daq.web.app import create_app
from daq.web.security import MAX_BODY
from daq.web.sessions import ADDRESS_THROTTLE_AFTER, THROTTLE_AFTER, Sessions, Throttle

PASSWORD = "a long enough password"


class Time:
    """A clock the tests move by hand (sessions' inactivity, the throttle's wait)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def lab_in(folder: Path, plans: Path | None = None, **web: object) -> LabConfig:
    raw = yaml.safe_load(default_lab_text())
    raw["journal"] = {"path": str(folder / "j.sqlite")}
    raw["standards"] = None
    raw["plans"] = str(plans or Path(__file__).parents[2] / "config" / "plans")
    raw["web"] = {"listen": "127.0.0.1:8080", "session_timeout": 600, **web}
    return parse_lab(yaml.safe_dump(raw), "lab.yaml")


@pytest.fixture
def time_() -> Time:
    return Time()


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[Journal]:
    async with Journal(tmp_path / "j.sqlite") as opened:
        for name, role, function in (
            ("root.admin", "administrator", "IT"),  # the lab's first user
            ("an.nguyen", "operator", ""),
            ("ha.tran", "authoriser", "Quality manager"),
        ):
            await add_user(opened, name, role, PASSWORD, full_name=name, function=function,
                           by="test")  # fmt: skip
        yield opened


@pytest.fixture
def app(tmp_path: Path, journal: Journal, time_: Time) -> FastAPI:
    return create_app(
        lab_in(tmp_path), journal, None, sessions=Sessions(600, time_), throttle=Throttle(time_)
    )


def browser(app: FastAPI, address: str = "127.0.0.1") -> httpx.AsyncClient:
    """A browser at ``address``."""
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with browser(app) as opened:
        yield opened


async def log_in(client: httpx.AsyncClient, name: str, password: str = PASSWORD) -> httpx.Response:
    page = await client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    return await client.post("/login", data={"name": name, "password": password, "csrf": token[1]})


async def csrf(client: httpx.AsyncClient) -> str:
    token: str = (await client.get("/api/me")).json()["csrf"]
    return token


async def test_only_health_login_and_static_are_open(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    assert (await client.get("/login")).status_code == 200
    assert (await client.get("/static/htmx.min.js")).status_code == 200
    page = await client.get("/runs")
    assert page.status_code == 303 and page.headers["location"] == "/login"
    for path in ("/api/runs", "/api/openapi.json", "/api/runs/x", "/certificates/x"):
        assert (await client.get(path)).status_code in (303, 401), path
    assert (await client.get("/api/standards")).json() == {"detail": "log in first"}


async def test_a_login_is_an_http_only_cookie_that_ends_after_inactivity(
    client: httpx.AsyncClient, journal: Journal, time_: Time
) -> None:
    answer = await log_in(client, "an.nguyen")
    assert answer.status_code == 303 and answer.headers["location"] == "/runs"
    cookie = answer.headers["set-cookie"]
    assert "daq_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Secure" not in cookie  # plain HTTP on the loopback
    assert (await client.get("/api/me")).json()["role"] == "operator"
    time_.now += 599  # activity restarts the clock
    assert (await client.get("/api/runs")).status_code == 200
    time_.now += 601
    assert (await client.get("/api/runs")).status_code == 401
    await journal.flush()
    [event] = await journal.events("login")
    assert event.message == "an.nguyen logged in from 127.0.0.1"
    assert event.instrument is None


async def test_cookies_are_secure_behind_https(
    tmp_path: Path, journal: Journal, time_: Time
) -> None:
    app = create_app(lab_in(tmp_path, behind_proxy=True), journal, None)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://lab") as client:
        answer = await log_in(client, "an.nguyen")
    assert "Secure" in answer.headers["set-cookie"]


async def test_every_change_needs_the_csrf_token(client: httpx.AsyncClient) -> None:
    page = await client.get("/login")
    assert page.status_code == 200
    refused = await client.post("/login", data={"name": "an.nguyen", "password": PASSWORD})
    assert refused.status_code == 403  # the login form too
    await log_in(client, "ha.tran")
    token = await csrf(client)
    for headers in ({}, {"X-CSRF-Token": "forged"}):
        answer = await client.post("/api/runs/r1/certificates", json={}, headers=headers)
        assert answer.status_code == 403 and "CSRF" in answer.json()["detail"]
        answer = await client.post("/language", data={"choice": "vi"}, headers=headers)
        assert answer.status_code == 403
    assert (await client.post("/language", data={"choice": "vi", "csrf": token})).status_code == 303
    assert "Lần hiệu chuẩn" in (await client.get("/runs")).text


async def test_an_operator_may_not_issue_certificates(client: httpx.AsyncClient) -> None:
    await log_in(client, "an.nguyen")
    headers = {"X-CSRF-Token": await csrf(client)}
    answer = await client.post("/api/runs/r1/certificates", json={}, headers=headers)
    assert answer.status_code == 403 and "operator" in answer.json()["detail"]
    form = await client.post("/runs/r1/certificates", data={"csrf": headers["X-CSRF-Token"]})
    assert form.status_code == 403


async def test_an_authoriser_issues_only_from_a_run_that_exists(
    client: httpx.AsyncClient,
) -> None:
    await log_in(client, "ha.tran")
    headers = {"X-CSRF-Token": await csrf(client)}
    answer = await client.post("/api/runs/r1/certificates", json={}, headers=headers)
    assert answer.status_code == 409 and "no run 'r1'" in answer.json()["detail"]


async def test_runs_are_started_where_the_agent_serves_the_console(
    client: httpx.AsyncClient,
) -> None:
    await log_in(client, "an.nguyen")
    headers = {"X-CSRF-Token": await csrf(client)}
    answer = await client.post("/api/runs", json={"plan": "balance"}, headers=headers)
    assert answer.status_code == 409 and "agent" in answer.json()["detail"]
    bad = await client.post("/api/runs", json={"plan": "../x"}, headers=headers)
    assert bad.status_code == 422


async def test_five_wrong_passwords_throttle_the_name(
    client: httpx.AsyncClient, journal: Journal, time_: Time
) -> None:
    for _ in range(THROTTLE_AFTER):
        assert (await log_in(client, "an.nguyen", "wrong password!")).status_code == 401
    throttled = await log_in(client, "an.nguyen")  # even the right password waits
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
    await journal.flush()
    [event] = await journal.events("login_throttled")
    assert "5 wrong passwords" in event.message
    failed = await journal.events("login_failed")  # each wrong one, with where it came from
    assert [e.message for e in failed] == ["'an.nguyen': wrong name or password from 127.0.0.1"] * 5
    time_.now += 61
    assert (await log_in(client, "an.nguyen")).status_code == 303
    await client.post("/logout", data={"csrf": await csrf(client)})
    await journal.flush()
    [logout] = await journal.events("logout")
    assert logout.message == "an.nguyen logged out"


async def test_wrong_passwords_sent_at_once_are_all_counted_before_any_is_checked(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from argon2 import PasswordHasher

    checked: list[str] = []
    real = PasswordHasher.verify

    def counted(self: PasswordHasher, hashed: str | bytes, password: str | bytes) -> bool:
        checked.append(str(password))
        return real(self, hashed, password)

    monkeypatch.setattr(PasswordHasher, "verify", counted)
    page = await client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    guesses = [{"name": "an.nguyen", "password": f"guess number {i}", "csrf": token[1]}
               for i in range(4 * THROTTLE_AFTER)]  # fmt: skip
    answers = await asyncio.gather(*(client.post("/login", data=g) for g in guesses))
    codes = sorted(a.status_code for a in answers)
    assert codes == [401] * THROTTLE_AFTER + [429] * (3 * THROTTLE_AFTER)
    assert len(checked) == THROTTLE_AFTER


async def test_wrong_passwords_elsewhere_do_not_keep_a_person_out(app: FastAPI) -> None:
    async with browser(app, "10.0.0.66") as stranger, browser(app, "10.0.0.7") as own:
        for _ in range(THROTTLE_AFTER):
            assert (await log_in(stranger, "an.nguyen", "wrong password!")).status_code == 401
        assert (await log_in(stranger, "an.nguyen")).status_code == 429
        assert (await log_in(own, "an.nguyen")).status_code == 303  # from her own PC


async def test_an_address_guessing_many_names_waits_and_others_do_not(
    app: FastAPI, journal: Journal
) -> None:
    async with browser(app, "10.0.0.66") as guesser, browser(app, "10.0.0.7") as other:
        for i in range(ADDRESS_THROTTLE_AFTER):
            answer = await log_in(guesser, f"name{i}", "wrong password!")
            assert answer.status_code == 401
        assert (await log_in(guesser, "an.nguyen")).status_code == 429
        assert (await log_in(other, "an.nguyen")).status_code == 303
    await journal.flush()
    assert any("whatever the names" in e.message for e in await journal.events("login_throttled"))


async def test_each_wrong_password_after_a_wait_doubles_it(
    client: httpx.AsyncClient, time_: Time
) -> None:
    for _ in range(THROTTLE_AFTER):
        await log_in(client, "an.nguyen", "wrong password!")
    assert int((await log_in(client, "an.nguyen")).headers["retry-after"]) == 61
    time_.now += 61
    assert (await log_in(client, "an.nguyen", "wrong password!")).status_code == 401
    assert int((await log_in(client, "an.nguyen")).headers["retry-after"]) == 121
    time_.now += 121
    assert (await log_in(client, "an.nguyen")).status_code == 303
    await client.post("/logout", data={"csrf": await csrf(client)})
    assert (await log_in(client, "an.nguyen", "wrong password!")).status_code == 401  # afresh


async def test_large_bodies_and_bad_ids_are_refused_before_anything(
    client: httpx.AsyncClient,
) -> None:
    await log_in(client, "an.nguyen")
    token = await csrf(client)
    big = await client.post("/language", content=b"x" * (MAX_BODY + 1),
                            headers={"X-CSRF-Token": token})  # fmt: skip
    assert big.status_code == 413
    assert (await client.get("/api/runs/bad%20id")).status_code == 404
    assert (await client.get("/runs/" + "x" * 200)).status_code == 404
    assert (await client.get("/certificates/nope")).status_code == 404


async def test_pages_render_for_a_login(client: httpx.AsyncClient) -> None:
    await log_in(client, "an.nguyen")
    for path in ("/runs", "/certificates", "/standards", "/events", "/bench", "/start", "/live"):
        answer = await client.get(path)
        assert answer.status_code == 200, path
        assert "an.nguyen (operator)" in answer.text
    assert (await client.get("/api/openapi.json")).json()["info"]["title"].startswith("benchdaq")


async def test_a_disabled_user_or_a_reset_password_ends_the_login(
    client: httpx.AsyncClient, journal: Journal
) -> None:
    from daq.people import disable_user, reset_password

    await log_in(client, "an.nguyen")
    assert (await client.get("/api/me")).status_code == 200
    await reset_password(journal, "an.nguyen", "another long password", by="admin")
    assert (await client.get("/api/me")).status_code == 401
    await log_in(client, "an.nguyen", "another long password")
    assert (await client.get("/api/me")).status_code == 200
    await disable_user(journal, "an.nguyen", by="admin")
    assert (await client.get("/api/me")).status_code == 401
    assert (await log_in(client, "an.nguyen", "another long password")).status_code == 401


async def test_a_page_refreshing_itself_keeps_no_login_alive(
    client: httpx.AsyncClient, time_: Time
) -> None:
    await log_in(client, "an.nguyen")
    for _ in range(2):
        time_.now += 300
        refreshed = await client.get("/bench/panel", headers={"HX-Request": "true"})
        assert refreshed.status_code == 200
    time_.now += 1  # 601 s since the person last did anything
    assert (await client.get("/bench/panel", headers={"HX-Request": "true"})).status_code == 401


async def test_the_language_form_goes_back_only_to_a_page_of_ours(
    client: httpx.AsyncClient,
) -> None:
    await log_in(client, "an.nguyen")
    token = await csrf(client)
    for referer, back in (("http://127.0.0.1/standards", "/standards"),
                          ("http://127.0.0.1//evil.example/x", "/runs"),
                          ("http://127.0.0.1/\\\\evil.example", "/runs")):  # fmt: skip
        answer = await client.post("/language", data={"choice": "en", "csrf": token},
                                   headers={"Referer": referer})  # fmt: skip
        assert answer.headers["location"] == back, referer


async def test_only_an_administrator_manages_users_and_each_change_names_them(
    client: httpx.AsyncClient, journal: Journal
) -> None:
    await log_in(client, "ha.tran")
    token = await csrf(client)
    assert (await client.get("/users")).status_code == 403
    refused = await client.post("/users/an.nguyen/disable", data={"csrf": token})
    assert refused.status_code == 403
    await client.post("/logout", data={"csrf": token})

    await log_in(client, "root.admin")
    token = await csrf(client)
    assert "an.nguyen" in (await client.get("/users")).text
    new = {"csrf": token, "name": "bao.le", "role": "operator", "password": PASSWORD}
    added = await client.post("/users", data={**new, "full_name": "Lê Bảo"})
    assert added.status_code == 303
    weak = await client.post("/users", data={"csrf": token, "name": "x.y", "role": "operator",
                                             "password": "short"})  # fmt: skip
    assert weak.status_code == 409 and "at least 10" in weak.json()["detail"]
    taken = await client.post("/users", data=new)
    assert taken.status_code == 409 and "already" in taken.json()["detail"]
    disabled = await client.post("/users/an.nguyen/disable", data={"csrf": token})
    assert disabled.status_code == 303
    itself = await client.post("/users/root.admin/disable", data={"csrf": token})
    assert itself.status_code == 409
    await journal.flush()
    added_event = (await journal.events("user_added"))[-1]
    disabled_event = (await journal.events("user_disabled"))[-1]
    assert added_event.message == "user bao.le (operator) added by root.admin"
    assert disabled_event.message == "user an.nguyen disabled by root.admin"


async def test_a_refused_form_is_a_page_for_a_person_and_json_for_a_program(
    client: httpx.AsyncClient,
) -> None:
    await log_in(client, "an.nguyen")
    token = await csrf(client)
    form = await client.post("/runs/r1/certificates", data={"csrf": token},
                             headers={"Accept": "text/html"})  # fmt: skip
    assert form.status_code == 403 and 'id="problem"' in form.text and "operator" in form.text
    program = await client.post("/runs/r1/certificates", data={"csrf": token})
    assert program.json()["detail"] == "an.nguyen (operator) may not do this"


def test_behind_a_proxy_the_console_listens_on_the_loopback_only(tmp_path: Path) -> None:
    from daq.config import ConfigError

    assert lab_in(tmp_path, behind_proxy=True).web is not None  # the proxy on the same PC
    with pytest.raises(ConfigError) as refused:
        lab_in(tmp_path, listen="0.0.0.0:8080", behind_proxy=True)
    assert str(refused.value).startswith("lab.yaml: web: behind_proxy: ")
    assert "loopback" in str(refused.value)
    https = lab_in(tmp_path, listen="0.0.0.0:8443", behind_proxy=True, certificate="c.pem",
                   key="k.pem").web  # fmt: skip
    assert https is not None and https.secure


async def test_a_listen_address_given_at_start_is_held_to_the_same_rule(
    tmp_path: Path, journal: Journal
) -> None:
    from daq.web.server import ConsoleUnavailable, serve_console

    lab = lab_in(tmp_path, behind_proxy=True)
    with pytest.raises(ConsoleUnavailable) as refused:
        await serve_console("0.0.0.0:8080", lab, journal, None, asyncio.Event())
    assert str(refused.value).startswith("lab.yaml: web: behind_proxy: ")
    assert "(listening on 0.0.0.0:8080)" in str(refused.value)


async def issued(journal: Journal, number: str, content: bytes) -> None:
    """A certificate of run r1 on record with its file, as ``daq.certify`` leaves it."""
    from daq.journal import CertificateRow

    row = CertificateRow(number, "r1", "pdf", "en", 1000.0, "ha.tran", "Quality manager",
                         "0" * 64, "", "")  # fmt: skip
    await journal.record_issue(row, None, None, content)


async def test_a_certificate_number_with_slashes_is_downloaded(
    client: httpx.AsyncClient, journal: Journal
) -> None:
    await issued(journal, "DEMO/2026/0007", b"%PDF-1.7 as issued")
    await log_in(client, "an.nguyen")
    listed = await client.get("/certificates")
    assert 'href="/certificates/DEMO/2026/0007"' in listed.text
    answer = await client.get("/certificates/DEMO/2026/0007")
    assert answer.status_code == 200 and answer.content == b"%PDF-1.7 as issued"
    assert answer.headers["content-disposition"] == 'attachment; filename="DEMO-2026-0007.pdf"'
    assert (await client.get("/certificates/DEMO/2026/0008")).status_code == 404


async def test_an_archived_file_altered_on_disk_is_not_given_out(
    client: httpx.AsyncClient, journal: Journal, tmp_path: Path
) -> None:
    await issued(journal, "DEMO-2026-0007", b"%PDF-1.7 as issued")
    with sqlite3.connect(tmp_path / "j.sqlite") as db:  # edited in the file, beside the agent
        db.execute("UPDATE certificate_files SET content = ? WHERE number = ?",
                   (b"%PDF-1.7 forged", "DEMO-2026-0007"))  # fmt: skip
    await log_in(client, "an.nguyen")
    answer = await client.get("/certificates/DEMO-2026-0007")
    assert answer.status_code == 409 and b"forged" not in answer.content
    assert "altered" in answer.json()["detail"] and "not given out" in answer.json()["detail"]
    await journal.flush()
    [event] = await journal.events("certificate_file_altered")
    assert event.run == "r1" and event.severity == "error" and "DEMO-2026-0007" in event.message


async def test_an_administrator_edits_and_enables_users_and_a_change_holds_at_once(
    client: httpx.AsyncClient, app: FastAPI, journal: Journal
) -> None:
    from daq.people import disable_user, edit_user

    async with browser(app, "10.0.0.7") as hers:
        await log_in(hers, "an.nguyen")
        assert (await hers.get("/api/me")).json()["role"] == "operator"
        await edit_user(journal, "an.nguyen", role="authoriser", by="root (command line)")
        assert (await hers.get("/api/me")).json()["role"] == "authoriser"  # no new login

    await log_in(client, "root.admin")
    token = await csrf(client)
    form = {"csrf": token, "role": "authoriser", "full_name": "Nguyễn Văn An",
            "function": "Technical manager"}  # fmt: skip
    edited = await client.post("/users/an.nguyen", data=form)
    assert edited.status_code == 303, edited.text
    user = await journal.user("an.nguyen")
    assert user is not None and (user.full_name, user.function) == (
        "Nguyễn Văn An", "Technical manager"
    )  # fmt: skip
    taken = await client.post("/users/an.nguyen", data={**form, "full_name": "ha.tran"})
    assert taken.status_code == 409 and "already" in taken.json()["detail"]
    control = await client.post("/users/an.nguyen", data={**form, "function": "QM\x07"})
    assert control.status_code == 422
    assert control.json()["detail"] == "the function holds a control character"
    new = {"csrf": token, "name": "bao.le", "role": "operator", "password": PASSWORD}
    added = await client.post("/users", data={**new, "full_name": "Lê\x1b Bảo"})
    assert added.status_code == 422
    await disable_user(journal, "an.nguyen", by="root (command line)")
    assert "/users/an.nguyen/enable" in (await client.get("/users")).text
    enabled = await client.post("/users/an.nguyen/enable", data={"csrf": token})
    assert enabled.status_code == 303
    async with browser(app, "10.0.0.7") as hers:
        assert (await log_in(hers, "an.nguyen")).status_code == 303
    await journal.flush()
    assert [e.message for e in await journal.events("user_enabled")] == [
        "user an.nguyen enabled by root.admin"
    ]


async def test_the_lab_keeps_an_administrator(client: httpx.AsyncClient) -> None:
    await log_in(client, "root.admin")
    token = await csrf(client)
    demoted = await client.post("/users/root.admin", data={"csrf": token, "role": "operator",
                                                           "full_name": "root.admin"})  # fmt: skip
    assert demoted.status_code == 409 and "only administrator" in demoted.json()["detail"]


async def test_served_alone_the_bench_shows_each_quantity_an_instrument_gave(
    tmp_path: Path, journal: Journal
) -> None:
    """Over the journal alone there is no monitor to say which quantity a row shows: a
    transmitter's pressure and its sensor temperature are both shown, each its newest."""
    from daq.core.reading import Reading

    for step in range(3):
        journal.record(Reading("transmitter-1", "pressure", 1.0 + step, "bar", 1000.0 + step))
        journal.record(Reading("transmitter-1", "temperature", 22.5, "°C", 1000.0 + step))
    await journal.flush()
    app = create_app(lab_in(tmp_path), journal, None)
    async with browser(app) as client:
        await log_in(client, "an.nguyen")
        rows = [r for r in (await client.get("/api/bench")).json() if r["id"] == "transmitter-1"]
        panel = (await client.get("/bench/panel")).text
    shown = {r["quantity"]: (r["value"], r["unit"]) for r in rows}
    assert shown == {"pressure": (3.0, "bar"), "temperature": (22.5, "°C")}
    assert "<small>pressure</small>" in panel and "<small>temperature</small>" in panel


async def test_a_program_logs_in_with_json_and_changes_with_the_csrf_token(
    client: httpx.AsyncClient, journal: Journal
) -> None:
    form = await client.post("/api/login", data={"name": "an.nguyen", "password": PASSWORD})
    assert form.status_code in (415, 422)  # a form (which another site could send): refused
    assert "daq_session" not in client.cookies
    wrong = await client.post("/api/login", json={"name": "an.nguyen", "password": "nope"})
    assert wrong.status_code == 401 and wrong.json()["detail"] == "wrong name or password"
    logged = await client.post("/api/login", json={"name": "an.nguyen", "password": PASSWORD})
    assert logged.status_code == 200 and logged.json()["role"] == "operator"
    token = logged.json()["csrf"]
    assert (await client.get("/api/runs")).status_code == 200
    refused = await client.post("/api/alarms/x/acknowledge")
    assert refused.status_code == 403  # no token: refused before anything
    with_token = await client.post("/api/alarms/x/acknowledge", headers={"X-CSRF-Token": token})
    assert with_token.status_code != 403
    for _ in range(THROTTLE_AFTER):
        await client.post("/api/login", json={"name": "ha.tran", "password": "nope"})
    throttled = await client.post("/api/login", json={"name": "ha.tran", "password": PASSWORD})
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
    await journal.flush()
    assert len(await journal.events("login_failed")) == 1 + THROTTLE_AFTER
