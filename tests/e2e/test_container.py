"""The image's contract, tested without a Docker engine: the Dockerfile installs what PDF
certificates need and makes a non-root service user with its data folder; its start command
and its health check, run here as an unprivileged user in a home of its own, start the agent
on the embedded demo lab, report it healthy, and report it gone once it stopped."""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instruction(name: str) -> list[str]:
    """The command of the Dockerfile's ``name`` instruction (CMD, HEALTHCHECK), exec form."""
    joined = DOCKERFILE.replace("\\\n", " ")
    [line] = [ln for ln in joined.splitlines() if ln.startswith(name + " ")]
    return list(json.loads(line[line.index("[") :]))


def test_the_dockerfile_installs_pango_fonts_and_a_service_user() -> None:
    for package in ("libpango-1.0-0", "libpangoft2-1.0-0", "fonts-dejavu-core"):
        assert package in DOCKERFILE
    assert re.search(r"useradd .*--groups dialout daq", DOCKERFILE)
    assert "chown daq:daq /home/daq/data" in DOCKERFILE
    assert re.search(r"^USER daq$", DOCKERFILE, re.MULTILINE)
    assert re.search(r"^VOLUME /home/daq/data$", DOCKERFILE, re.MULTILINE)
    assert instruction("CMD")[:2] == ["daq", "agent"]
    assert instruction("HEALTHCHECK")[:3] == ["daq", "status", "--check"]


@pytest.fixture
def service_home() -> Iterator[tuple[Path, list[str]]]:
    """A home for the service user, and the prefix that runs a command as that user: nobody
    when the tests run as root (as in CI), else the user running them."""
    home = Path(tempfile.mkdtemp(prefix="daq-home-", dir="/tmp"))
    prefix: list[str] = []
    if can_drop_root():
        setpriv = shutil.which("setpriv")
        assert setpriv is not None, "setpriv (util-linux) is needed to drop root"
        nobody = pwd.getpwnam("nobody")
        os.chown(home, nobody.pw_uid, nobody.pw_gid)
        # setpriv execs the command itself: signals reach the agent, not a wrapper
        ids = [f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]
        prefix = [setpriv, *ids]
    (home / "data").mkdir()
    if prefix:
        os.chown(home / "data", pwd.getpwnam("nobody").pw_uid, pwd.getpwnam("nobody").pw_gid)
    yield home, prefix
    shutil.rmtree(home, ignore_errors=True)


def others_may_run(path: Path) -> bool:
    """Whether a user who is neither owner nor in the group can reach and run ``path``."""
    return all(p.stat().st_mode & stat.S_IXOTH for p in (path, *path.parents))


def can_drop_root() -> bool:
    """Running as root, with the project and its packages where nobody can read them (a clone
    in a folder only root may enter keeps the test as root, the uid check aside)."""
    packages = [Path(p) for p in sys.path if p.endswith("site-packages")]
    return os.geteuid() == 0 and all(others_may_run(p) for p in (ROOT, *packages))


def interpreter() -> list[str]:
    """This interpreter with these packages, runnable by another user: itself, or where it
    sits in root's home, the system's Python of the same version given the same packages."""
    if not can_drop_root() or others_may_run(Path(sys.executable).resolve()):
        return [sys.executable]
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    system = Path("/usr/bin") / version
    assert system.exists(), f"{system} is needed to run the image's commands as nobody"
    packages = [p for p in sys.path if p.endswith("site-packages")]
    return ["env", f"PYTHONPATH={':'.join([str(ROOT), *packages])}", str(system)]


def as_in_image(command: list[str], prefix: list[str], home: Path) -> list[str]:
    """``command`` as the image runs it (``daq`` is this interpreter's), under ``prefix``."""
    assert command[0] == "daq"
    env = [f"HOME={home}", "PYTHONUNBUFFERED=1", "COLUMNS=120", f"MPLCONFIGDIR={home}/.mpl"]
    return [*prefix, "env", *env, *interpreter(), "-m", "daq", *command[1:]]


def health(prefix: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    check = as_in_image(instruction("HEALTHCHECK"), prefix, home)
    return subprocess.run(check, cwd=home, capture_output=True, text=True, timeout=60)


def test_the_image_starts_the_agent_as_a_non_root_user_and_checks_its_health(
    service_home: tuple[Path, list[str]],
) -> None:
    home, prefix = service_home
    agent = subprocess.Popen(
        as_in_image(instruction("CMD"), prefix, home),
        cwd=home,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        checked = health(prefix, home)
        while checked.returncode != 0 and time.monotonic() < deadline and agent.poll() is None:
            time.sleep(0.5)
            checked = health(prefix, home)
        assert (checked.returncode, checked.stdout.strip()) == (0, "healthy"), checked
        journal = home / "data" / "daq.sqlite"  # the journal in the data volume
        assert journal.stat().st_uid == home.stat().st_uid  # written by the service user
        assert journal.stat().st_uid != 0 or not prefix  # nobody, wherever root could drop
    finally:
        agent.send_signal(signal.SIGTERM)
        out, err = agent.communicate(timeout=120)
    assert agent.returncode == 0, out + err
    assert "\x1b[" not in out  # readable without a terminal: no escape sequences
    gone = health(prefix, home)
    assert gone.returncode == 1 and "the agent is not running" in gone.stdout
