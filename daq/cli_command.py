"""``daq command``: sign a command with your key, publish it to the agent over MQTT and print
its reply.

The secret is read from where the lab file says for the key id (or ``--secret-env`` /
``--secret-file``); it never travels: the command carries an HMAC-SHA256 made with it
(format: docs/STREAMING.md). Exit status: 0 accepted, 1 refused, 2 not delivered.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from daq.cli_common import LabOption, console, fail, load

if TYPE_CHECKING:
    from daq.config import LabConfig
    from daq.sinks.settings import MqttSettings

command_app = typer.Typer(
    rich_markup_mode=None,
    help="Send a signed command to the agent over MQTT and print its reply.",
    no_args_is_help=True,
)

KeyIdOption = Annotated[
    str,
    typer.Option(
        "--key-id", envvar="DAQ_KEY_ID", help="Your key id (mqtt.commands.clients of the lab)."
    ),
]
SecretEnvOption = Annotated[
    str | None,
    typer.Option(
        "--secret-env",
        help="Environment variable holding your secret. Default: the lab file's, for the key.",
    ),
]
SecretFileOption = Annotated[
    Path | None,
    typer.Option(
        "--secret-file", help="File holding your secret. Default: the lab file's, for the key."
    ),
]
ByOption = Annotated[str, typer.Option("--by", help="Your name, recorded with the key id.")]
TimeoutOption = Annotated[
    float, typer.Option("--timeout", min=0.1, help="Seconds to wait for the agent's reply.")
]


@command_app.command("start_run")
def start_run(
    plan: Annotated[str, typer.Option("--plan", help="A plan of the lab, by name.")],
    key_id: KeyIdOption,
    uut: Annotated[
        str | None, typer.Option("--uut", help="A configured instrument to calibrate instead.")
    ] = None,
    by: ByOption = "",
    lab: LabOption = None,
    secret_env: SecretEnvOption = None,
    secret_file: SecretFileOption = None,
    timeout: TimeoutOption = 15.0,
) -> None:
    """Start a run of one of the lab's plans."""
    fields = {"command": "start_run", "plan": plan, **({"uut": uut} if uut else {})}
    _send(fields, key_id, by, lab, secret_env, secret_file, timeout)


@command_app.command("abort_run")
def abort_run(
    run: Annotated[str, typer.Option("--run", help="The run in progress.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded).")],
    key_id: KeyIdOption,
    by: ByOption = "",
    lab: LabOption = None,
    secret_env: SecretEnvOption = None,
    secret_file: SecretFileOption = None,
    timeout: TimeoutOption = 15.0,
) -> None:
    """Stop the run in progress safely."""
    fields = {"command": "abort_run", "run": run, "reason": reason}
    _send(fields, key_id, by, lab, secret_env, secret_file, timeout)


@command_app.command("answer_prompt")
def answer_prompt(
    prompt: Annotated[str, typer.Option("--prompt", help="The open prompt's id.")],
    answer: Annotated[str, typer.Option("--answer", help="The answer, as typed.")],
    key_id: KeyIdOption,
    by: ByOption = "",
    lab: LabOption = None,
    secret_env: SecretEnvOption = None,
    secret_file: SecretFileOption = None,
    timeout: TimeoutOption = 15.0,
) -> None:
    """Answer the operator question the agent keeps on its prompts topic."""
    fields = {"command": "answer_prompt", "prompt": prompt, "answer": answer}
    _send(fields, key_id, by, lab, secret_env, secret_file, timeout)


@command_app.command("ack_alarm")
def ack_alarm(
    alarm: Annotated[str, typer.Option("--alarm", help="The alarm rule's id.")],
    key_id: KeyIdOption,
    by: ByOption = "",
    lab: LabOption = None,
    secret_env: SecretEnvOption = None,
    secret_file: SecretFileOption = None,
    timeout: TimeoutOption = 15.0,
) -> None:
    """Acknowledge an active alarm."""
    _send(
        {"command": "ack_alarm", "alarm": alarm}, key_id, by, lab, secret_env, secret_file, timeout
    )


def _send(
    fields: dict[str, str],
    key_id: str,
    by: str,
    lab_file: Path | None,
    secret_env: str | None,
    secret_file: Path | None,
    timeout: float,
) -> None:
    import asyncio

    from daq.commands import sign
    from daq.sinks.tls import TlsError

    lab = load(lab_file)
    if lab.mqtt is None:
        raise fail(
            f"the lab file of {lab.lab.id} has no mqtt: section",
            "Commands travel over MQTT: name the agent's broker under mqtt: (docs/STREAMING.md).",
            2,
        )
    key = _secret(lab, key_id, secret_env, secret_file)
    message = sign(
        {"id": f"cli-{secrets.token_hex(6)}", **fields, **({"by": by} if by else {})},
        key_id,
        key,
        time.time(),
        to=lab.lab.id,
    )
    import aiomqtt

    where = f"{lab.mqtt.host}:{lab.mqtt.port}"
    try:
        answer = asyncio.run(_exchange(lab.mqtt, lab.lab.id, message, timeout))
    except (aiomqtt.MqttError, TlsError) as exc:
        raise fail(
            f"cannot reach the MQTT broker {where}: {exc}",
            "Check the broker and the mqtt: settings of the lab file.",
            2,
        ) from None
    except TimeoutError:
        raise fail(
            f"no reply from the agent of {lab.lab.id} through {where} in {timeout:g} s",
            "Is `daq agent` running and connected? Under a flood of bad commands it answers "
            "only the first few of each minute.",
            2,
        ) from None
    console.print_json(data=answer)
    if answer.get("accepted") is not True:
        raise typer.Exit(1)


def _secret(lab: LabConfig, key_id: str, secret_env: str | None, secret_file: Path | None) -> bytes:
    """The secret of ``key_id``, from where the options or the lab file say."""
    from daq.commands import KeyUnavailable, read_secret
    from daq.sinks.settings import CommandClient

    assert lab.mqtt is not None
    if secret_env is None and secret_file is None:
        client = {c.id: c for c in lab.mqtt.commands.clients}.get(key_id)
        if client is None:
            raise fail(
                f"no key {key_id!r} in the lab file's mqtt.commands.clients",
                "Give --secret-env or --secret-file, or ask the lab to list your key.",
                2,
            )
    else:
        from pydantic import ValidationError

        try:
            client = CommandClient(
                id=key_id,
                secret_env=secret_env,
                secret_file=secret_file.resolve() if secret_file else None,
            )
        except ValidationError as exc:
            raise fail(
                "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors()),
                "A key id is letters, digits, '-', '_' or '.'; give one secret source.",
                2,
            ) from None
    try:
        key, _ = read_secret(client)
    except KeyUnavailable as exc:
        raise fail(str(exc), "Set the variable or fix the file, then send again.", 2) from None
    return key


async def _exchange(
    settings: MqttSettings, lab: str, message: dict[str, Any], timeout: float
) -> dict[str, Any]:
    """Publish ``message`` on the agent's command topic; its reply."""
    import asyncio

    import aiomqtt

    from daq.sinks.mqtt import tls_context
    from daq.sinks.settings import secret

    agent = f"{settings.prefix}/{lab}/agent"
    client = aiomqtt.Client(
        settings.host,
        settings.port,
        username=settings.username,
        password=secret(settings.password_env),
        identifier=f"daq-command-{secrets.token_hex(4)}",
        keepalive=settings.keepalive,
        tls_context=tls_context(settings) if settings.tls else None,
        timeout=10,
    )
    async with asyncio.timeout(timeout), client:
        await client.subscribe(f"{agent}/replies", settings.qos)
        await client.publish(f"{agent}/commands", json.dumps(message).encode(), settings.qos)
        async for received in client.messages:
            if not isinstance(received.payload, bytes):
                continue
            try:
                reply = json.loads(received.payload)
            except ValueError:
                continue
            if isinstance(reply, dict) and reply.get("id") == message["id"]:
                return reply
    raise TimeoutError
