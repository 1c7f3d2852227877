"""A journal is never opened on a network share (SQLite's locks and its write-ahead log do
not hold over a network filesystem: sqlite.org/wal.html), found from Linux's mount table."""

from __future__ import annotations

from pathlib import Path

import pytest

from daq.journal import Journal, JournalError, place

# Lines in the format of proc(5), /proc/[pid]/mountinfo
LOCAL = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"


def table(point: Path, kind: str) -> str:
    escaped = str(point).replace(" ", "\\040")
    return LOCAL + f"36 22 0:50 / {escaped} rw,relatime shared:2 master:1 - {kind} srv:/lab rw\n"


def test_the_mount_table_is_read_with_its_escapes_and_optional_fields() -> None:
    assert place.mounts(table(Path("/mnt/lab share"), "cifs")) == [
        ("/", "ext4"),
        ("/mnt/lab share", "cifs"),
    ]


@pytest.mark.parametrize("kind", ["nfs4", "cifs", "fuse.sshfs"])
def test_a_path_under_a_network_mount_is_found_and_a_local_one_is_not(
    tmp_path: Path, kind: str
) -> None:
    share = tmp_path / "lab share"
    share.mkdir()
    journal = share / "data" / "daq.sqlite"  # not made yet: its folder's mount counts
    assert place.network_share(journal, table(share, kind)) == (kind, str(share))
    assert place.network_share(tmp_path / "daq.sqlite", table(share, kind)) is None
    assert place.network_share(journal, table(share, "ext4")) is None
    assert place.network_share(tmp_path / "lab shared" / "x", table(share, kind)) is None


async def test_a_journal_on_a_share_is_refused_saying_where_to_keep_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(table(tmp_path, "nfs4"))
    monkeypatch.setattr(place, "MOUNTINFO", mountinfo)
    for read_only in (False, True):
        with pytest.raises(JournalError, match="on a network share \\(nfs4 at") as refused:
            async with Journal(tmp_path / "daq.sqlite", read_only=read_only):
                pass
        assert "this computer's own disk" in str(refused.value)
    assert not (tmp_path / "daq.sqlite").exists()
