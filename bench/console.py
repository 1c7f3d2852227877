"""Console benchmark: how long the console's pages take over a large journal, against a bare
FastAPI route that reads the same rows and returns them as JSON (no login, no gate, no
template), measured in the same run; and the bench page following many instruments.

The journal is filled directly with SQLite (``--runs`` runs, ``--readings`` readings over the
demo lab's instruments, ``--events`` events); the app is served in-process through httpx's
ASGI transport (no network), logged in as an authoriser. The figures are the median and the
95th percentile of ``--repeat`` requests after one that warms the caches.

Run: `python bench/console.py [--runs 10000] [--readings 10000000] [--instruments 500]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sqlite3
import statistics
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import yaml
from fastapi import FastAPI

from daq.agent import BenchView
from daq.config import LabConfig, default_lab_text, parse_lab
from daq.core.reading import Reading, Status
from daq.journal import Journal
from daq.journal.reading_index import INDEX_BATCH, catch_up
from daq.people import add_user
from daq.web.app import create_app

CONFIG = Path(__file__).resolve().parents[1] / "config"
PASSWORD = "a bench password"


def lab_in(folder: Path, instruments: int = 0) -> LabConfig:
    raw = yaml.safe_load(default_lab_text())
    raw["journal"] = {"path": str(folder / "daq.sqlite")}
    raw["standards"] = str(CONFIG / "standards.yaml")
    raw["plans"] = str(CONFIG / "plans")
    if instruments:  # one more bench of copies of the demo's Modbus transmitter
        model = next(i for b in raw["benches"] for i in b["instruments"]
                     if i["id"] == "transmitter-1")  # fmt: skip
        copies = [{**model, "id": f"tx-{n}"} for n in range(instruments)]
        raw["benches"].append({"id": "many", "instruments": copies})
    return parse_lab(yaml.safe_dump(raw), "lab.yaml")


def fill(path: Path, lab: LabConfig, runs: int, readings: int, events: int) -> str:
    """The journal with ``runs`` runs, ``readings`` readings and ``events`` events; the id
    of a run in the middle."""
    instruments = [i.id for _, i in lab.instruments()]
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=OFF")
    start = time.time() - runs * 3600
    db.executemany(
        "INSERT INTO runs (id, plan, procedure, started, finished, status, reason, setup) "
        "VALUES (?, ?, 'weighing', ?, ?, ?, '', ?)",
        ((f"balance-{n:06d}", ("balance", "thermometers", "pressure-gauge")[n % 3],
          start + n * 3600, start + n * 3600 + 1800, ("completed", "aborted", "error")[n % 7 % 3],
          json.dumps({"requested_by": {"name": "An Nguyen"}}))
         for n in range(runs)),
    )  # fmt: skip
    middle = f"balance-{runs // 2:06d}"
    point = {
        "kind": "indication",
        "nominal": 100.0,
        "unit": "g",
        "values": {"error": 1e-5},
        "budget": {"expanded_uncertainty": 1.5e-4, "coverage_factor": 2.0, "contributions": []},
        "decision": {"outcome": "pass"},
    }
    db.executemany(
        "INSERT INTO points (run, seq, key, timestamp, data) VALUES (?, ?, ?, ?, ?)",
        ((middle, n, f"p{n}", start, json.dumps({**point, "key": f"p{n}"})) for n in range(8)),
    )

    def insert(numbers: range) -> None:
        db.executemany(
            "INSERT INTO readings (instrument, quantity, value, unit, timestamp, status, raw) "
            "VALUES (?, 'pressure', ?, 'bar', ?, 'ok', '')",
            ((instruments[n % len(instruments)], 1.0 + n % 100 / 1000, start + n * 0.1)
             for n in numbers),
        )  # fmt: skip
        db.commit()

    tail = max(0, readings - INDEX_BATCH + 1)  # the longest unindexed tail the writer leaves
    for first in range(0, tail, 200_000):
        insert(range(first, min(first + 200_000, tail)))
    catch_up(db)  # as the journal's writer does once a batch is committed
    insert(range(tail, readings))
    db.executemany(
        "INSERT INTO events (timestamp, kind, severity, instrument, message, run) "
        "VALUES (?, 'instrument_failed', 'error', 'balance-1', 'no reply', NULL)",
        ((start + n,) for n in range(events)),
    )
    db.commit()
    db.close()
    return middle


def bare_app(journal: Journal) -> FastAPI:
    """The same rows as the console's pages, as plain JSON."""
    bare = FastAPI()

    @bare.get("/runs")
    async def runs() -> list[dict[str, Any]]:
        return [asdict(r) for r in await journal.runs(1000)][:500]

    @bare.get("/runs/{run}")
    async def run(run: str) -> dict[str, Any]:
        row = await journal.run(run)
        events = [asdict(e) for e in await journal.events(run=run, limit=500)]
        points = await journal.points(run)
        return {"run": asdict(row) if row else None, "points": points, "events": events}

    @bare.get("/events")
    async def events() -> list[dict[str, Any]]:
        return [asdict(e) for e in await journal.events(limit=300)]

    return bare


async def timed(client: httpx.AsyncClient, path: str, repeat: int) -> tuple[float, float]:
    """Median and 95th percentile seconds of ``path``, after one warm-up request."""
    assert (await client.get(path)).status_code == 200, path
    spent = []
    for _ in range(repeat):
        begun = time.perf_counter()
        answer = await client.get(path)
        spent.append(time.perf_counter() - begun)
        assert answer.status_code == 200, path
    spent.sort()
    return statistics.median(spent), spent[int(len(spent) * 0.95) - 1 if len(spent) > 1 else 0]


async def logged_in(app: FastAPI) -> httpx.AsyncClient:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x")
    page = await client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None, (page.status_code, page.text[:500])
    answer = await client.post("/login", data={"name": "ha.tran", "password": PASSWORD,
                                               "csrf": token[1]})  # fmt: skip
    assert answer.status_code == 303
    return client


async def pages(folder: Path, options: argparse.Namespace) -> None:
    lab = lab_in(folder)
    async with Journal(folder / "daq.sqlite") as journal:
        await add_user(journal, "it.admin", "administrator", PASSWORD, full_name="",
                       function="", by="bench")  # fmt: skip
        await add_user(journal, "ha.tran", "authoriser", PASSWORD, full_name="Trần Thu Hà",
                       function="Quality manager", by="bench")  # fmt: skip
    began = time.perf_counter()
    middle = fill(folder / "daq.sqlite", lab, options.runs, options.readings, options.events)
    print(f"journal filled in {time.perf_counter() - began:.0f} s: {options.runs} runs, "
          f"{options.readings} readings, {options.events} events")  # fmt: skip
    async with Journal(folder / "daq.sqlite") as journal:
        console = await logged_in(create_app(lab, journal))
        bare = httpx.AsyncClient(transport=httpx.ASGITransport(app=bare_app(journal)),
                                 base_url="http://x")  # fmt: skip
        cases = [
            ("runs list (500 of the newest 1,000)", "/runs", "/runs"),
            ("runs list filtered by plan", "/runs?plan=balance&status=completed", "/runs"),
            ("a run: points, verify status, events", f"/runs/{middle}", f"/runs/{middle}"),
            ("events (newest 300)", "/events", "/events"),
            ("standards register", "/standards", None),
            ("bench (newest value of each instrument)", "/bench", None),
            ("certificates", "/certificates", None),
        ]
        print(f"{'page':42} {'median ms':>10} {'p95 ms':>8} {'bare ms':>8} {'x bare':>7}")
        for name, path, bare_path in cases:
            median, p95 = await timed(console, path, options.repeat)
            line = f"{name:42} {median * 1000:10.1f} {p95 * 1000:8.1f}"
            if bare_path is not None:
                reference, _ = await timed(bare, bare_path, options.repeat)
                line += f" {reference * 1000:8.1f} {median / reference:7.1f}"
            print(line)
        await console.aclose()
        await bare.aclose()


async def bench_page(folder: Path, options: argparse.Namespace) -> None:
    """The bench page of an agent following ``--instruments`` instruments: the cost of one
    refresh (the page refreshes once a second)."""
    lab = lab_in(folder, options.instruments)
    view = BenchView()
    for step in range(BenchView.TREND):
        view.update([Reading(i.id, "pressure", 1.0 + step / 1000, "bar", time.time(), Status.OK,
                             "") for _, i in lab.instruments()])  # fmt: skip
    agent = SimpleNamespace(bench=view, instrument_states=[], running=False)
    async with Journal(folder / "bench.sqlite") as journal:
        await add_user(journal, "it.admin", "administrator", PASSWORD, full_name="",
                       function="", by="bench")  # fmt: skip
        await add_user(journal, "ha.tran", "authoriser", PASSWORD, full_name="H", function="Q",
                       by="bench")  # fmt: skip
        client = await logged_in(create_app(lab, journal, agent))  # type: ignore[arg-type]
        median, p95 = await timed(client, "/bench/panel", options.repeat)
        await client.aclose()
    count = sum(1 for _ in lab.instruments())
    print(f"bench panel, {count} instruments with {BenchView.TREND}-point trends: median "
          f"{median * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms per refresh; at 1 Hz "
          f"{median * 100:.1f} % of one core per browser following it")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--readings", type=int, default=10_000_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--instruments", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=20)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(pages(Path(tmp), options))
        asyncio.run(bench_page(Path(tmp), options))


if __name__ == "__main__":
    main()
