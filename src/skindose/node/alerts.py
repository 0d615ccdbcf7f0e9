"""Alert delivery: ``alerts.jsonl``, an optional command hook and optional e-mail.

Alerts are raised by the workers (one registry row per patient and level, so each is raised
once) and delivered by the server process, one at a time, after the row is committed. Delivery is
at-least-once: a crash after delivering and before marking the row delivered repeats that one
alert at the next start; a crash before delivering delays it to the next start.
"""

from __future__ import annotations

import json
import os
import shlex
import smtplib
import subprocess
from email.message import EmailMessage
from typing import Any

from skindose.node.config import NodeConfig
from skindose.node.storage import FILE_MODE

__all__ = ["alert_json", "deliver"]


def alert_json(alert: dict[str, Any]) -> str:
    """The one-line JSON of an alert (its payload plus id and time raised)."""
    from skindose.jsonsafe import jsonable

    d = dict(alert["payload"])
    d["alert_id"] = alert["id"]
    d["raised_at"] = alert["raised_at"]
    return json.dumps(jsonable(d), allow_nan=False, sort_keys=True)


def deliver(alert: dict[str, Any], config: NodeConfig, *, patient_id: str | None = None
            ) -> str | None:
    """Deliver an alert through every configured channel.

    Returns
    -------
    str or None
        None when every channel succeeded, else one line per failed channel.
    """
    payload = dict(alert["payload"])
    if patient_id is not None:
        payload["patient_id"] = patient_id
    line = alert_json(alert | {"payload": payload})
    errors = []
    path = config.data_dir / "alerts.jsonl"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    if config.alert_command:
        try:
            r = subprocess.run(shlex.split(config.alert_command), input=line + "\n",
                               text=True, capture_output=True, timeout=60, check=False)
            if r.returncode != 0:
                errors.append(f"alert command exited {r.returncode}: "
                              f"{(r.stderr or '').strip()[:200]}")
        except (OSError, subprocess.TimeoutExpired) as exc:
            errors.append(f"alert command failed: {exc}")
    if config.smtp_host:
        msg = EmailMessage()
        msg["From"] = config.smtp_from
        msg["To"] = ", ".join(config.smtp_to)
        msg["Subject"] = (f"skindose alert: {payload['kind']} peak skin dose "
                          f"{payload['psd_gy']:.3g} Gy reached the {payload['level_gy']:g} Gy "
                          "level")
        msg.set_content("A patient reached a skin dose alert level.\n\n"
                        + json.dumps(json.loads(line), indent=2) + "\n")
        try:
            with smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=30) as s:
                s.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            errors.append(f"e-mail through {config.smtp_host}:{config.smtp_port} failed: {exc}")
    return "; ".join(errors) or None
