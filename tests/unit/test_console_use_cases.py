"""The console's changes go through the agent's use cases with the person logged in: what
they pass, and a refusal's reason coming back as 409 (a stand-in agent records the calls)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from daq.agent import BenchView
from daq.engine.order import RunOrder
from daq.journal import Journal
from daq.operations import LiveRun, PromptDesk, Refused
from daq.people import add_user
from daq.web.app import create_app
from tests.unit.test_console_security import PASSWORD, lab_in, log_in
from tests.unit.test_people import administrator_first


class StandIn:
    """The agent's use cases as the console sees them, recording each call."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.prompter = PromptDesk(console=True)
        self.live = LiveRun()
        self.bench = BenchView()
        self.running = False
        self.active_alarms = ["pan-load"]
        self.acknowledged_alarms: dict[str, str] = {}
        self.instrument_states: list[Any] = []

    def plans(self) -> list[str]:
        return ["balance"]

    async def start_run(self, plan: str, order: RunOrder, requested_by: dict[str, str]) -> str:
        self.calls.append(("start", plan, order, requested_by))
        return "balance-1"

    async def abort_run(self, run: str, reason: str, who: str) -> None:
        self.calls.append(("abort", run, reason, who))
        raise Refused(f"run {run!r} is not running in this agent")

    def answer_prompt(self, prompt: str, answer: str, who: str, via: str) -> None:
        self.calls.append(("answer", prompt, answer, who, via))

    def acknowledge_alarm(self, alarm: str, who: str) -> None:
        self.calls.append(("acknowledge", alarm, who))


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, StandIn]]:
    agent = StandIn()
    async with Journal(tmp_path / "j.sqlite") as journal:
        await add_user(journal, "root.admin", "administrator", PASSWORD, full_name="",
                       function="", by="test")  # fmt: skip
        await add_user(journal, "an.nguyen", "operator", PASSWORD, full_name="An Nguyen",
                       function="", by="test")  # fmt: skip
        plans = tmp_path / "plans"  # the shipped balance plan, its serial left to the form
        plans.mkdir()
        shipped = (Path(__file__).parents[2] / "config" / "plans" / "balance.yaml").read_text()
        (plans / "balance.yaml").write_text(shipped.replace("serial: B207696838", ""))
        app = create_app(lab_in(tmp_path, plans), journal, agent)  # type: ignore[arg-type]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            page = await client.get("/login")
            token = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert token is not None
            await client.post("/login", data={"name": "an.nguyen", "password": PASSWORD,
                                              "csrf": token[1]})  # fmt: skip
            yield client, agent


async def test_changes_go_through_the_use_cases_in_the_persons_name(
    console: tuple[httpx.AsyncClient, StandIn],
) -> None:
    client, agent = console
    csrf = (await client.get("/api/me")).json()["csrf"]
    headers = {"X-CSRF-Token": csrf}
    form = await client.get("/start/items", params={"plan": "balance"})
    assert 'name="item" value="balance-1"' in form.text  # the plan states no serial: asked
    started = await client.post("/start", data={
        "csrf": csrf, "plan": "balance", "customer": "Example Workshop Co",
        "received": "2026-11-30", "override": ["weight-100g-e2"], "reason": "new certificate",
        "item": ["balance-1"], "item_serial": ["B207696838"],
    })  # fmt: skip
    assert started.status_code == 303 and started.headers["location"] == "/live"
    _, plan, order, requested = agent.calls[0]
    assert plan == "balance" and order.customer == "Example Workshop Co"
    assert str(order.received) == "2026-11-30" and order.override == ["weight-100g-e2"]
    assert order.serials == {"balance-1": "B207696838"}
    assert order.by == "An Nguyen" and order.reason == "new certificate"
    assert requested == {"user": "an.nguyen", "name": "An Nguyen", "via": "console"}
    answered = await client.post("/api/prompts/abc123/answer", json={"answer": "2.5 bar"},
                                 headers=headers)  # fmt: skip
    assert answered.status_code == 200
    acknowledged = await client.post("/alarms/pan-load/acknowledge", data={"csrf": csrf})
    assert acknowledged.status_code == 303
    refused = await client.post("/api/runs/balance-9/abort", json={"reason": "wrong weights"},
                                headers=headers)  # fmt: skip
    assert refused.status_code == 409 and "not running" in refused.json()["detail"]
    assert agent.calls[1:] == [
        ("answer", "abc123", "2.5 bar", "An Nguyen (an.nguyen)", "console"),
        ("acknowledge", "pan-load", "An Nguyen (an.nguyen)"),
        ("abort", "balance-9", "wrong weights", "An Nguyen (an.nguyen)"),
    ]


async def test_overrides_need_a_reason_and_bad_input_is_refused_before_the_agent(
    console: tuple[httpx.AsyncClient, StandIn],
) -> None:
    client, agent = console
    csrf = (await client.get("/api/me")).json()["csrf"]
    headers = {"X-CSRF-Token": csrf}
    for body in ({"plan": "balance", "override": ["weight-100g-e2"]},
                 {"plan": "balance", "customer": "A\x00B"},
                 {"plan": "balance", "received": "yesterday"},
                 {"plan": "balance", "uut": "../etc"},
                 {"plan": "balance", "serials": {"../etc": "1"}},
                 {"plan": "balance", "serials": {"balance-1": "1\n2"}}):  # fmt: skip
        answer = await client.post("/api/runs", json=body, headers=headers)
        assert answer.status_code == 422, body
    answer = await client.post("/api/prompts/abc/answer", json={"answer": "x" * 201},
                               headers=headers)  # fmt: skip
    assert answer.status_code == 422
    assert agent.calls == []


async def test_the_live_pages_show_the_open_prompt_and_the_run(
    console: tuple[httpx.AsyncClient, StandIn],
) -> None:
    import asyncio

    from daq.core.prompts import Question

    client, agent = console
    agent.live.begin("balance-1", "Balance", total=8, done=0)
    agent.running = True
    asking = asyncio.create_task(agent.prompter.ask(Question("balance-1", "Place 200 g")))
    while not agent.prompter.open:
        await asyncio.sleep(0)
    prompts = (await client.get("/live/prompts")).text
    assert "Place 200 g" in prompts and 'data-prompt="' in prompts
    panel = (await client.get("/live/panel")).text
    assert (
        'id="live-run">balance-1' in panel and "0 / 8" in panel and 'data-state="running"' in panel
    )
    # the abort form is outside the panel redrawn as the run moves on (a reason being typed)
    live = (await client.get("/live")).text
    assert 'id="abort"' not in panel and 'id="abort"' in live
    assert live.index('id="abort"') > live.index("</section>", live.index('id="live-panel"'))
    [listed] = (await client.get("/api/prompts")).json()
    assert listed["text"] == "Place 200 g" and listed["confirmation"] is True
    asking.cancel()


async def test_the_live_events_end_with_the_login(
    console: tuple[httpx.AsyncClient, StandIn], monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from daq.web import live

    monkeypatch.setattr(live, "CHECK", 60.0)  # a login ended in the console is heard at once
    client, agent = console
    listening = asyncio.create_task(client.get("/live/events"))
    await asyncio.sleep(0.3)
    assert not listening.done()  # the stream stays open while the login lasts
    agent.live.begin("balance-1", "Balance", total=8, done=0)
    await asyncio.sleep(0.3)
    app = client._transport.app  # type: ignore[attr-defined]
    app.state.console.sessions.end(client.cookies.get("daq_session"))
    answer = await asyncio.wait_for(listening, 5)
    assert answer.status_code == 200
    assert "event: prompts" in answer.text and "event: run" in answer.text


async def test_control_characters_in_any_typed_text_are_refused_before_the_agent(
    console: tuple[httpx.AsyncClient, StandIn],
) -> None:
    client, agent = console
    csrf = (await client.get("/api/me")).json()["csrf"]
    forms = [
        ("/runs/balance-1/abort", {"reason": "wrong weights\x1b[2J"}, "reason"),
        ("/start", {"plan": "balance", "customer": "Example\x07 Co"}, "customer"),
        ("/start", {"plan": "balance", "item": ["balance-1"], "item_serial": ["SN\r\n42"]},
         "serial of balance-1"),
        ("/start", {"plan": "balance", "override": ["weight-100g-e2"], "reason": "new\x00"},
         "reason"),
        ("/prompts/abc123/answer", {"text": "2.5\x08 bar"}, "answer"),
    ]  # fmt: skip
    for path, form, field in forms:
        answer = await client.post(path, data={"csrf": csrf, **form})
        assert answer.status_code == 422, path
        assert answer.json()["detail"] == f"the {field} holds a control character"
    assert agent.calls == []


async def test_an_invalid_answer_sent_with_a_valid_one_does_not_win(
    console: tuple[httpx.AsyncClient, StandIn],
) -> None:
    import asyncio

    from daq.core.prompts import Question

    client, agent = console
    agent.answer_prompt = agent.prompter.answer  # type: ignore[method-assign]  # the real desk
    asking = asyncio.create_task(
        agent.prompter.ask(Question("gauge-9", "Read the dial gauge", "pressure", "bar", 0, 10))
    )
    while not agent.prompter.open:
        await asyncio.sleep(0)
    [ident] = agent.prompter.open
    headers = {"X-CSRF-Token": (await client.get("/api/me")).json()["csrf"]}
    invalid, valid = await asyncio.gather(
        client.post(f"/api/prompts/{ident}/answer", json={"answer": "two"}, headers=headers),
        client.post(f"/api/prompts/{ident}/answer", json={"answer": "2 bar"}, headers=headers),
    )
    assert invalid.status_code == 409 and "'two' is not a number" in invalid.json()["detail"]
    assert valid.status_code == 200
    assert await asking == "2 bar"


async def test_the_live_events_end_when_the_user_is_disabled_from_the_command_line(
    console: tuple[httpx.AsyncClient, StandIn], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import asyncio

    from daq.people import disable_user
    from daq.web import live

    monkeypatch.setattr(live, "CHECK", 0.05)  # only the journal says so: looked at again soon
    client, agent = console
    app = client._transport.app  # type: ignore[attr-defined]
    journal = app.state.console.journal
    agent.live.begin("balance-1", "Balance", total=8, done=0)
    streams = [asyncio.create_task(client.get(path)) for path in ("/live/events", "/bench/events")]

    def waiting(what: str) -> bool:  # a stream past its first events, waiting for the next
        return any(t.get_coro().__qualname__ == what for t in asyncio.all_tasks())  # type: ignore[union-attr]

    while not (waiting("Changes.wait") and waiting("Ticks.wait")):
        await asyncio.sleep(0)
    assert not any(s.done() for s in streams)
    await disable_user(journal, "an.nguyen", by="admin (daq users)")  # no console involved
    live_answer, bench_answer = await asyncio.wait_for(asyncio.gather(*streams), 30)
    assert live_answer.status_code == bench_answer.status_code == 200
    assert "event: run" in live_answer.text and "event: bench" in bench_answer.text


async def test_an_open_live_page_keeps_no_login_alive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from daq.web import live
    from daq.web.sessions import Sessions
    from tests.unit.test_console_security import Time, log_in

    monkeypatch.setattr(live, "CHECK", 0.05)
    time_, agent = Time(), StandIn()
    async with Journal(tmp_path / "j.sqlite") as journal:
        await administrator_first(journal)
        await add_user(journal, "an.nguyen", "operator", PASSWORD, full_name="An Nguyen",
                       function="", by="test")  # fmt: skip
        app = create_app(lab_in(tmp_path), journal, agent, sessions=Sessions(600, time_))  # type: ignore[arg-type]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            await log_in(client, "an.nguyen")
            time_.now += 300  # the person opens the live page, then leaves it open
            streaming = asyncio.create_task(client.get("/live/events"))
            while not any(t.get_coro().__qualname__ == "Changes.wait"  # type: ignore[union-attr]
                          for t in asyncio.all_tasks()):  # fmt: skip
                await asyncio.sleep(0)
            time_.now += 301  # 601 s after the person last did anything
            agent.live.changes.bump()  # the run moves on: news for the page, not activity
            assert (await asyncio.wait_for(streaming, 30)).status_code == 200
            assert (await client.get("/api/me")).status_code == 401


async def test_the_start_form_offers_overrides_only_for_the_chosen_plans_standards(
    tmp_path: Path,
) -> None:
    """On 1 March 2028 the balance's weights and the thermometers' reference PRT are both
    past their due dates (config/standards.yaml); each plan's form offers its own only."""
    import datetime as dt

    from daq.core.clock import Clock

    class March2028(Clock):
        def now(self) -> float:
            return dt.datetime(2028, 3, 1, 9, tzinfo=dt.UTC).timestamp()

    config = Path(__file__).parents[2] / "config"
    lab = lab_in(tmp_path).model_copy(update={"standards": config / "standards.yaml"})
    agent = StandIn()
    agent.plans = lambda: ["balance", "thermometers"]  # type: ignore[method-assign]
    async with Journal(tmp_path / "j.sqlite", clock=March2028()) as journal:
        await administrator_first(journal)
        await add_user(journal, "an.nguyen", "operator", PASSWORD, full_name="An Nguyen",
                       function="", by="test")  # fmt: skip
        app = create_app(lab, journal, agent)  # type: ignore[arg-type]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            await log_in(client, "an.nguyen")
            balance = (await client.get("/start/items", params={"plan": "balance"})).text
            thermometers = (await client.get("/start/items", params={"plan": "thermometers"})).text
    offered = re.compile(r'name="override" value="([^"]+)"')
    assert "weight-100g-e2" in offered.findall(balance)
    assert "prt-ref-1" not in offered.findall(balance)
    assert offered.findall(thermometers) == ["prt-ref-1"]


async def test_a_refused_form_leads_back_to_its_page_and_a_late_answer_says_who_was_first(
    console: tuple[httpx.AsyncClient, StandIn],
) -> None:
    import asyncio

    from daq.core.prompts import Question

    client, agent = console
    agent.answer_prompt = agent.prompter.answer  # type: ignore[method-assign]  # the real desk
    asking = asyncio.create_task(agent.prompter.ask(Question("balance-1", "Place 200 g")))
    while not agent.prompter.open:
        await asyncio.sleep(0)
    [ident] = agent.prompter.open
    agent.prompter.answer(ident, "", "key lims", "MQTT")
    await asking
    csrf = (await client.get("/api/me")).json()["csrf"]
    page = {"accept": "text/html", "referer": "http://127.0.0.1/live"}
    late = await client.post(f"/prompts/{ident}/answer", data={"csrf": csrf}, headers=page)
    assert late.status_code == 409
    assert "this question was answered by key lims (MQTT)" in late.text
    assert 'href="/live" id="back"' in late.text
    elsewhere = {"accept": "text/html", "referer": "https://example.org/live"}
    late = await client.post(f"/prompts/{ident}/answer", data={"csrf": csrf}, headers=elsewhere)
    assert 'href="/runs" id="back"' in late.text
    sneaky = {"accept": "text/html", "referer": "http://127.0.0.1//example.org/live"}
    late = await client.post(f"/prompts/{ident}/answer", data={"csrf": csrf}, headers=sneaky)
    assert 'href="/runs" id="back"' in late.text  # never a link to another site


async def test_statuses_and_roles_kept_in_english_are_shown_in_the_persons_language(
    console: tuple[httpx.AsyncClient, StandIn],
) -> None:
    from daq.journal import RunRow

    client, _ = console
    journal = client._transport.app.state.console.journal  # type: ignore[attr-defined]
    await journal.start_run(RunRow("balance-1", "balance", "weighing", 1.0, 2.0, "completed",
                                   "", None, "{}"))  # fmt: skip
    csrf = (await client.get("/api/me")).json()["csrf"]
    assert 'class="status-completed">completed<' in (await client.get("/runs")).text
    await client.post("/language", data={"csrf": csrf, "choice": "vi"})
    runs = (await client.get("/runs")).text
    assert 'class="status-completed">hoàn thành<' in runs
    assert '<option value="aborted">đã dừng</option>' in runs  # the filter still sends it
    assert (await client.get("/api/runs")).json()[0]["status"] == "completed"  # the API: as kept
