"""The operator console in a real headless browser (Debian's chromium driven by Playwright):
an operator starts the balance plan on the simulators (``daq simulate`` in its own
process, the weights placed through its control interface as a person places them) and
answers the weight prompts in the browser while the points arrive; an authoriser issues the
certificate and downloads the PDF; an operator is refused issuing; a change without the
CSRF token is refused; five wrong passwords throttle the login. The agent streams to an
InfluxDB and an MQTT broker that are both down, and the console works all the same. Each
page's screenshot is written to docs/images/ (the README shows them)."""

from __future__ import annotations

import io
import json
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from simulators.servers import free_tcp_port
from tests.conftest import lab_text
from tests.e2e.processes import DAQ, run, simulating
from tests.services import binary

IMAGES = Path(__file__).parents[2] / "docs" / "images"
ADMINISTRATOR = ("it.admin", "administrator", "IT Administrator", "", "administrator password 0")
OPERATOR = ("an.nguyen", "operator", "An Nguyen", "", "operator password 1")
AUTHORISER = ("ha.tran", "authoriser", "Trần Thu Hà", "Quality manager", "authoriser password 2")


class Bench:
    """The simulators, the agent serving the console, and where to reach them."""

    def __init__(self, folder: Path, url: str, control: int) -> None:
        self.folder = folder
        self.url = url
        self.control = control

    def act(self, action: dict[str, Any]) -> None:
        """Do what a prompt asks to the simulated instrument (as the person would), through
        the simulators' control interface (one JSON line each way)."""
        arguments = action["arguments"]
        place = action["name"] == "place"
        args = [arguments["mass_g"], arguments.get("position", "centre")] if place else []
        request = {"command": "act", "instrument": action["instrument"],
                   "action": action["name"], "args": args}  # fmt: skip
        with socket.create_connection(("127.0.0.1", self.control), timeout=10) as link:
            link.sendall(json.dumps(request).encode() + b"\n")
            reply = json.loads(link.makefile("rb").readline())
        assert reply["ok"], reply


def _add_users(lab: Path, cwd: Path) -> None:
    for name, role, full_name, function, password in (ADMINISTRATOR, OPERATOR, AUTHORISER):
        admin = [] if name == ADMINISTRATOR[0] else ["--admin", ADMINISTRATOR[0]]
        passwords = password if not admin else f"{ADMINISTRATOR[-1]}\n{password}"
        added = subprocess.run(
            [*DAQ, "users", "add", name, "--role", role, "--full-name", full_name,
             "--function", function, *admin, "--password-stdin", "--lab", str(lab)],
            input=passwords + "\n", capture_output=True, text=True, cwd=cwd, timeout=60,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
    listed = run("users", "list", "--lab", str(lab), cwd=cwd)
    assert "an.nguyen" in listed.stdout and "authoriser" in listed.stdout


def _healthy(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"the console at {url} did not answer in {timeout} s")


@contextmanager
def serving(folder: Path, time_scale: float = 1.0) -> Iterator[Bench]:
    """`daq simulate` and `daq agent` serving the console on the default lab, with two users;
    ``time_scale`` runs both processes' waits and simulated physics that much faster."""
    raw = yaml.safe_load(lab_text(folder))
    port, control = free_tcp_port(), free_tcp_port()
    raw["web"] = {"listen": f"127.0.0.1:{port}", "session_timeout": 900}
    dead = free_tcp_port()  # nothing listens there: both sinks are down throughout
    raw["influxdb"] = {"url": f"http://127.0.0.1:{dead}", "token_env": None}
    raw["mqtt"] = {"host": "127.0.0.1", "port": dead}
    raw["alarms"] = [  # the reference PRT's check values, charted on the standards page
        {"id": "prt-shewhart", "kind": "shewhart", "instrument": "readout-1",
         "quantity": "temperature_ch1", "mean": 23.035, "sigma": 0.01, "k": 3},
        {"id": "prt-ewma", "kind": "ewma", "instrument": "readout-1",
         "quantity": "temperature_ch1", "mean": 23.035, "sigma": 0.01},
    ]  # fmt: skip
    lab = folder / "lab.yaml"
    lab.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    _add_users(lab, folder)
    scale = ("--time-scale", str(time_scale))
    with simulating(lab, folder, control, *scale):
        log = (folder / "agent.log").open("w")
        agent = subprocess.Popen([*DAQ, "agent", "--lab", str(lab), *scale], cwd=folder,
                                 stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            _healthy(url, 60)
            yield Bench(folder, url, control)
        finally:
            agent.send_signal(signal.SIGTERM)
            assert agent.wait(60) == 0, (folder / "agent.log").read_text()[-3000:]
            log.close()


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    with serving(tmp_path_factory.mktemp("console")) as served:
        yield served


@pytest.fixture(scope="module")
def fast_bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    """The bench at 40 times real speed: a well takes minutes to settle and a gauge is held
    half a minute at each point, which the browser need not wait for in real time."""
    with serving(tmp_path_factory.mktemp("console-fast"), time_scale=40) as served:
        yield served


@pytest.fixture(scope="module")
def browser(bench: Bench) -> Iterator[Any]:
    chromium = binary("chromium", "chromium")  # skips outside CI when missing, fails in CI
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield launched
        launched.close()


def shot(page: Any, name: str, *, whole: bool = False) -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMAGES / f"console-{name}.png"), full_page=whole)


def log_in(browser: Any, bench: Bench, who: tuple[str, ...]) -> Any:
    context = browser.new_context(base_url=bench.url, viewport={"width": 1280, "height": 800},
                                  accept_downloads=True)  # fmt: skip
    page = context.new_page()
    page.goto("/login")
    page.fill("input[name=name]", who[0])
    page.fill("input[name=password]", who[-1])
    page.click("form.login button")
    page.wait_for_url("**/runs")
    return page


def csrf_of(page: Any) -> str:
    token: str = page.request.get("/api/me").json()["csrf"]
    return token


def answer_every_prompt(
    page: Any,
    bench: Bench,
    run_id: str,
    reading: Callable[[dict[str, Any]], str] = lambda prompt: "",
    *,
    screenshots: bool = False,
) -> tuple[int, list[int]]:
    """Answer each prompt of the live run in the browser until the run finishes: do what it
    asks to the simulated instrument and confirm, or type what ``reading`` reads; the number
    answered and the points table's length after each answer."""
    answered, rows_seen = 0, [0]
    deadline = time.monotonic() + 420
    while time.monotonic() < deadline:
        page.wait_for_selector("form.prompt, #live-running[data-state=finished]", timeout=60_000)
        if page.locator("#live-running[data-state=finished]").count():
            return answered, rows_seen
        prompt = page.locator("form.prompt").first
        ident = prompt.get_attribute("data-prompt")
        [open_prompt] = [p for p in page.request.get("/api/prompts").json() if p["id"] == ident]
        assert open_prompt["run"] == run_id
        if open_prompt["action"] is not None:
            bench.act(open_prompt["action"])
        if not open_prompt["confirmation"]:
            prompt.locator("input[name=text]").fill(reading(open_prompt))
        if screenshots and answered == 3:
            shot(page, "prompt")
        prompt.locator("button").click()
        page.wait_for_selector(f"form[data-prompt='{ident}']", state="detached")
        answered += 1
        rows_seen.append(page.locator("#live-points tbody tr").count())
        if screenshots and rows_seen[-1] == 3 and rows_seen[-2] != 3:
            shot(page, "live")
    raise AssertionError(f"run {run_id} did not finish; {answered} prompts answered")


@pytest.mark.timeout(600)
def test_an_operator_runs_the_balance_plan_and_an_authoriser_certifies_it(
    bench: Bench, browser: Any, tmp_path: Path
) -> None:
    page = log_in(browser, bench, OPERATOR)
    page.goto("/start")
    shot(page, "start")
    page.select_option("select[name=plan]", "balance")
    page.fill("input[name=customer]", "Example Workshop Co")
    page.fill("input[name=received]", "2026-11-30")
    page.click("#start button")
    page.wait_for_url("**/live")
    run_id = page.inner_text("#live-run")
    assert run_id.startswith("balance-")

    answered, rows_seen = answer_every_prompt(page, bench, run_id, screenshots=True)
    assert answered >= 20  # the weighing asks to place and remove each load
    assert rows_seen == sorted(rows_seen) and len(set(rows_seen)) - 1 > 0  # points arrived
    final = page.locator("#live-points tbody tr").count()
    assert final > rows_seen[1]

    page.goto(f"/runs/{run_id}")
    assert "completed" in page.inner_text("#run-status")
    assert page.locator("#points tbody tr").count() == final
    assert "verifies" in page.inner_text("#verify")
    shot(page, "run")
    events = page.request.get(f"/api/runs/{run_id}").json()["events"]
    assert any(e["kind"] == "prompt_answered" and "An Nguyen (an.nguyen) (console)" in e["message"]
               for e in events)  # fmt: skip

    # an operator may not issue; a change without its CSRF token is refused
    token = csrf_of(page)
    refused = page.request.post(f"/api/runs/{run_id}/certificates", data={"format": "pdf"},
                                headers={"X-CSRF-Token": token})  # fmt: skip
    assert refused.status == 403
    no_token = page.request.post(f"/api/runs/{run_id}/abort", data={"reason": "x"})
    assert no_token.status == 403 and "CSRF" in no_token.json()["detail"]
    page.goto("/bench")
    page.wait_for_selector("#instruments tbody tr.health-ok")
    shot(page, "bench")
    page.context.close()

    page = log_in(browser, bench, AUTHORISER)
    page.goto(f"/runs/{run_id}")
    page.select_option("#issue select[name=form]", "pdf")
    page.click("#issue button")
    page.wait_for_selector("#run-certificates a.download")
    row = page.inner_text("#run-certificates tbody tr")
    assert "Trần Thu Hà" in row and "Quality manager" in row
    with page.expect_download() as download:
        page.click("#run-certificates a.download")
    pdf = tmp_path / "certificate.pdf"
    download.value.save_as(pdf)
    from pypdf import PdfReader

    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.read_bytes())).pages)
    number = page.inner_text("#run-certificates tbody tr td")
    assert number in text and "Quality manager" in text and "B207696838" in text
    assert "Example Workshop Co" in text  # the customer given when the run was started
    page.goto("/certificates")
    shot(page, "certificates")
    page.goto("/standards")
    assert page.locator("#standards td.due").count() >= 1
    assert page.locator("#chart-prt-shewhart polyline").count() == 1
    shot(page, "standards", whole=True)
    page.goto("/events")
    assert "certificate_issued" in page.inner_text("#events")
    shot(page, "events")
    page.goto("/runs")
    shot(page, "runs")
    page.select_option("select[name=choice]", "vi")
    page.click("form[action='/language'] button")
    assert "Lần hiệu chuẩn" in page.inner_text("h1")
    shot(page, "runs-vi")
    page.context.close()


@pytest.mark.timeout(120)
def test_five_wrong_passwords_throttle_the_login(bench: Bench, browser: Any) -> None:
    context = browser.new_context(base_url=bench.url, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto("/login")
    shot(page, "login")
    for attempt in range(6):
        page.fill("input[name=name]", OPERATOR[0])
        page.fill("input[name=password]", "not the password")
        with page.expect_response("**/login") as answer:
            page.click("form.login button")
        expected = 401 if attempt < 5 else 429
        assert answer.value.status == expected, attempt
    assert "Too many wrong passwords" in page.inner_text("#problem")
    page.fill("input[name=name]", OPERATOR[0])
    page.fill("input[name=password]", OPERATOR[-1])
    with page.expect_response("**/login") as answer:
        page.click("form.login button")
    assert answer.value.status == 429  # the right password waits too
    context.close()


def dial_reads_high(page: Any, by: float) -> Callable[[dict[str, Any]], str]:
    """What the operator reads on the dial gauge: the reference transmitter's live value on
    the bench page plus ``by`` bar (a gauge that reads high), to its 0.01 bar step."""

    def read(prompt: dict[str, Any]) -> str:
        assert prompt["instrument"] == "gauge-1", prompt
        bench = page.request.get("/api/bench").json()
        [reference] = [row for row in bench if row["id"] == "transmitter-1"]
        assert reference["unit"] == "bar", reference
        return f"{reference['value'] + by:.2f} bar"

    return read


def certify(browser: Any, bench: Bench, run_id: str) -> list[str]:
    """The authoriser issues the run's PDF certificates in the browser; their rows."""
    page = log_in(browser, bench, AUTHORISER)
    page.goto(f"/runs/{run_id}")
    page.select_option("#issue select[name=form]", "pdf")
    page.click("#issue button")
    page.wait_for_selector("#run-certificates a.download")
    rows: list[str] = page.locator("#run-certificates tbody tr").all_inner_texts()
    page.context.close()
    return rows


@pytest.mark.timeout(900)
def test_the_thermometer_comparison_runs_and_is_certified_in_the_browser(
    fast_bench: Bench, browser: Any
) -> None:
    page = log_in(browser, fast_bench, OPERATOR)
    page.goto("/start")
    page.select_option("select[name=plan]", "thermometers")
    # the form shows each probe of the plan with its serial (the plan states them)
    page.wait_for_selector("#items output[data-uut=probe-3]")
    assert page.locator("#items output.serial").all_inner_texts() == ["T-2001", "T-2002"]
    page.click("#start button")
    page.wait_for_url("**/live")
    run_id = page.inner_text("#live-run")
    assert run_id.startswith("thermometers-")
    answered, _ = answer_every_prompt(page, fast_bench, run_id)
    assert answered == 1  # insert the reference and both probes into the well
    page.goto(f"/runs/{run_id}")
    assert "completed" in page.inner_text("#run-status")
    points = page.request.get(f"/api/runs/{run_id}").json()["points"]
    decided = [p for p in points if p["decision"]]
    assert len(decided) == 6  # three set points, two probes
    assert {p["decision"] for p in decided} == {"pass"}, decided
    page.context.close()
    rows = certify(browser, fast_bench, run_id)
    assert len(rows) == 2 and all("Trần Thu Hà" in row for row in rows)  # one per probe


@pytest.mark.timeout(900)
def test_a_dial_gauge_read_in_the_browser_is_judged_on_what_was_typed(
    fast_bench: Bench, browser: Any
) -> None:
    page = log_in(browser, fast_bench, OPERATOR)
    page.goto("/start")
    page.select_option("select[name=plan]", "pressure-gauge")
    page.click("#start button")
    page.wait_for_url("**/live")
    run_id = page.inner_text("#live-run")
    assert run_id.startswith("pressure-gauge-")
    # The gauge is read 0.30 bar high throughout: outside ±0.16 bar (class 1.6 of 10 bar)
    answered, _ = answer_every_prompt(page, fast_bench, run_id, dial_reads_high(page, 0.3))
    assert answered >= 12  # six points rising and falling
    page.goto(f"/runs/{run_id}")
    assert "completed" in page.inner_text("#run-status")
    points = page.request.get(f"/api/runs/{run_id}").json()["points"]
    decided = [p for p in points if p["decision"]]
    assert len(decided) == 6
    assert all(p["error"] == pytest.approx(0.3, abs=0.02) for p in decided), [
        (p["key"], p["error"], p["decision"]) for p in decided
    ]
    assert {p["decision"] for p in decided} == {"fail"}, decided
    page.context.close()
    [row] = certify(browser, fast_bench, run_id)
    assert "Trần Thu Hà" in row
