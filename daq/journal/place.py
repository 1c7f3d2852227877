"""Where a journal may live: on this computer's own disk, never on a network share.

SQLite's locks do not hold over network filesystems, and its write-ahead log, which the
journal uses, "does not work over a network filesystem" (sqlite.org/wal.html); two programs
on two PCs could each think they hold the journal and corrupt it. Linux says which
filesystem holds a path in /proc/self/mountinfo; elsewhere nothing is checked.
"""

from __future__ import annotations

import os
from pathlib import Path

NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "ceph", "glusterfs", "lustre",
        "gpfs", "davfs", "fuse.sshfs", "fuse.glusterfs", "fuse.davfs2", "fuse.s3fs",
        "fuse.rclone", "fuse.gcsfuse",
    }
)  # fmt: skip
MOUNTINFO = Path("/proc/self/mountinfo")


def _unescaped(field: str) -> str:
    """A mount point as the kernel writes it (space, tab, newline, backslash as octal)."""
    for code, character in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, character)
    return field


def mounts(mountinfo: str) -> list[tuple[str, str]]:
    """(mount point, filesystem type) of each line of a mountinfo table."""
    found = []
    for line in mountinfo.splitlines():
        fields = line.split()
        if "-" not in fields[6:]:
            continue
        separator = fields.index("-", 6)
        if len(fields) > separator + 1:
            found.append((_unescaped(fields[4]), fields[separator + 1]))
    return found


def network_share(path: Path, mountinfo: str | None = None) -> tuple[str, str] | None:
    """(filesystem type, mount point) when ``path`` (or the folder it will be made in) is
    on a network filesystem; None on a local disk or where the system does not say."""
    if mountinfo is None:
        try:
            mountinfo = MOUNTINFO.read_text()
        except OSError:
            return None
    place = Path(os.path.abspath(path))
    while not place.exists() and place != place.parent:
        place = place.parent
    place = place.resolve()
    best: tuple[str, str] | None = None
    for point, kind in mounts(mountinfo):
        inside = place == Path(point) or Path(point) in place.parents
        if inside and (best is None or len(point) >= len(best[0])):
            best = (point, kind)  # the last mount of the longest point is the one seen
    if best is None or best[1] not in NETWORK_FILESYSTEMS:
        return None
    return best[1], best[0]
