"""``daq keys``: the lab's signing keys (Ed25519): list the register, make a new key pair."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from daq.cli_common import LabOption, console, errors, fail, journal_of, load, run

if TYPE_CHECKING:
    from daq.takeover import TakeOver

keys_app = typer.Typer(
    rich_markup_mode=None,
    help="The lab's signing keys: the register, new key pairs.",
    invoke_without_command=True,
)


@keys_app.callback()
def keys(ctx: typer.Context, lab: LabOption = None) -> None:
    """List the lab file's key register, and whether this machine's private key can sign."""
    from daq.signing import SigningError, load_signer

    if ctx.invoked_subcommand is not None:
        return
    config = load(lab)
    signing = config.signing
    if signing is None:
        console.print(
            "The lab file has no signing: section: runs and certificates are not signed. "
            "`daq keys new --out DIR` makes a key pair."
        )
        return
    now = dt.datetime.now(dt.UTC)
    table = Table(title=f"Signing keys of {config.lab.id}")
    for column in ("key", "valid from", "valid to", "state", "public key"):
        table.add_column(column)
    for key in signing.keys:
        if key.revoked:
            state = Text("revoked", "red")
        elif key.valid_at(now.timestamp()):
            state = Text("valid", "green")
        else:
            state = Text("expired" if key.valid_from <= now else "not yet valid", "yellow")
        table.add_row(
            key.id,
            key.valid_from.isoformat(),
            key.valid_to.isoformat() if key.valid_to else "",
            state,
            key.public_key,
        )
    console.print(table)
    try:
        signer = load_signer(signing, now.timestamp())
    except SigningError as exc:
        errors.print(Text(f"this machine cannot sign: {exc}", "yellow"), soft_wrap=True)
    else:
        console.print(f"this machine signs with {signer.key.id}")


@keys_app.command("new")
def new(
    out: Annotated[Path, typer.Option(help="Folder for the key pair (made if missing).")],
    key_id: Annotated[
        str | None, typer.Option("--id", help="Key id (default: from its fingerprint).")
    ] = None,
) -> None:
    """Make a key pair: the private key in OUT/ID.key (mode 600, for the service user only),
    the public key in OUT/ID.pub; print the entry for the lab file's signing.keys."""
    import yaml

    from daq.signing import KEY_ID_PATTERN, fingerprint, generate

    if key_id is not None and not re.match(KEY_ID_PATTERN, key_id):
        raise fail(
            f"--id {key_id!r} is not an id",
            "Use up to 64 letters, digits, '-', '_' or '.', starting with a letter or digit.",
            2,
        )
    pem, public = generate()
    ident = key_id or fingerprint(public)
    private_file, public_file = out / f"{ident}.key", out / f"{ident}.pub"
    try:
        out.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor = os.open(private_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
        os.chmod(private_file, 0o600)  # whatever the umask
        public_file.write_text(public + "\n", encoding="utf-8")
    except FileExistsError:
        raise fail(
            f"{private_file} exists: a key is never overwritten", "Give another --id or --out."
        ) from None
    except OSError as exc:
        raise fail(f"cannot write the key pair in {out}: {exc.strerror or exc}") from None
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    entry = {"id": ident, "public_key": public, "valid_from": now.isoformat()}
    errors.print(
        f"private key: {private_file.resolve()} (mode 600): readable by the service user only; "
        "never put it in the lab file or the journal. Point signing.key_file at it (or set "
        "DAQ_SIGNING_KEY to its content), and add this entry to signing.keys (when rotating, "
        "give the old key a valid_to):",
        soft_wrap=True,
    )
    console.print(yaml.safe_dump([entry], sort_keys=False), end="", markup=False, highlight=False)


@keys_app.command("take-over")
def take_over_records(lab: LabOption = None) -> None:
    """Sign the records made before the lab began signing, as they are now, so that they keep
    verifying (once per journal; the first signed run or certificate does it too)."""
    from daq.signing import SigningError, load_signer
    from daq.takeover import TakeOverRefused, take_over

    config = load(lab)
    if config.signing is None:
        raise fail(
            "the lab file has no signing: section: there is nothing to sign with",
            "`daq keys new --out DIR` makes a key pair; register it under signing.keys.",
            2,
        )
    signing = config.signing
    try:
        signer = load_signer(signing, dt.datetime.now(dt.UTC).timestamp())
    except SigningError as exc:
        raise fail(f"this machine cannot sign: {exc}") from None

    async def sign() -> TakeOver:
        async with journal_of(config) as journal:
            return await take_over(journal, signing, signer)

    try:
        done = run(sign())
    except TakeOverRefused as exc:
        raise fail(str(exc), "`daq verify RUN` names what each record lacks.") from None
    console.print(
        f"{len(done.taken)} record(s) made before signing taken over with key {signer.key.id}"
    )
    for name in done.left:
        errors.print(
            Text(f"{name}: unsigned, and made after signing began: not taken over", "red"),
            soft_wrap=True,
        )
