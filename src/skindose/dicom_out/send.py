"""C-STORE of the written files to a DICOM peer (PS3.4 Annex B Storage Service Class).

pynetdicom is an optional dependency (``pip install skindose[dicom]``). One association per
attempt carries all files; a failed attempt (association refused, aborted, peer absent, time
out, or any non-success status) is retried up to ``retries`` times with a short back-off, and
then raises :class:`~skindose.errors.DicomSendError` with one line naming the peer and why.
Warning statuses (0xB000, 0xB006, 0xB007; PS3.4 Table B.2-1) count as stored.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from skindose.errors import ConfigurationError, DicomSendError

__all__ = ["Peer", "parse_peer", "send_files"]

_AET_RE = re.compile(r"^[\x20-\x5b\x5d-\x7e]{1,16}$")  # PS3.5 AE VR: no backslash, <= 16


@dataclass(frozen=True, slots=True)
class Peer:
    """A DICOM peer: called AE title, host and TCP port."""

    aet: str
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.aet}@{self.host}:{self.port}"


def parse_peer(text: str) -> Peer:
    """Parse ``AET@HOST:PORT`` (IPv6 hosts in brackets: ``AET@[::1]:104``).

    Raises
    ------
    ConfigurationError
        The text is not of that form, the AE title is empty, longer than 16 characters or
        has a backslash or control character (PS3.5 Table 6.2-1, AE), or the port is not
        1-65535.
    """
    s = str(text).strip()
    m = re.fullmatch(r"(?P<aet>[^@]*)@(?P<host>\[[^\]]+\]|[^:@\[\]]+):(?P<port>[^:]+)", s)
    if not m:
        raise ConfigurationError(
            f"peer {text!r}: expected AET@HOST:PORT, e.g. PACS@10.0.0.5:104")
    aet, host, port_s = m.group("aet").strip(), m.group("host"), m.group("port")
    if not aet or not _AET_RE.match(aet) or not aet.strip():
        raise ConfigurationError(
            f"peer {text!r}: the AE title must be 1-16 printable characters without '\\'")
    try:
        port = int(port_s)
    except ValueError:
        raise ConfigurationError(f"peer {text!r}: port {port_s!r} is not a number") from None
    if not 1 <= port <= 65535:
        raise ConfigurationError(f"peer {text!r}: port {port} is outside 1-65535")
    host = host[1:-1] if host.startswith("[") else host
    return Peer(aet=aet, host=host, port=port)


def _pynetdicom():
    try:
        import pynetdicom
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise DicomSendError("sending needs pynetdicom: pip install 'skindose[dicom]'") from None
    return pynetdicom


def send_files(paths: Iterable[str | Path], peer: Peer | str, *, calling_aet: str = "SKINDOSE",
               retries: int = 3, timeout_s: float = 30.0, backoff_s: float = 1.0) -> None:
    """Store DICOM files on ``peer`` with C-STORE.

    Parameters
    ----------
    paths
        DICOM files (Part 10) to send.
    peer
        A :class:`Peer` or ``"AET@HOST:PORT"``.
    calling_aet
        Our AE title.
    retries
        Further attempts after the first one fails (0: try once).
    timeout_s
        Connection, association and DIMSE time-out, each (s).
    backoff_s
        Wait before the first retry; doubled at each further retry.

    Raises
    ------
    DicomSendError
        With one line: the peer and the reason (refused, absent, timed out, status).
    ConfigurationError
        ``peer`` text is malformed.
    """
    import pydicom

    if not isinstance(peer, Peer):
        peer = parse_peer(peer)
    files = [Path(p) for p in paths]
    if not files:
        return
    datasets = []
    for f in files:
        try:
            datasets.append(pydicom.dcmread(f))
        except Exception as exc:
            raise DicomSendError(f"cannot send {f}: not a readable DICOM file ({exc})") from None
    pnd = _pynetdicom()
    from pynetdicom import AE

    attempts = max(0, int(retries)) + 1
    last = "no attempt made"
    pending = list(zip(files, datasets, strict=True))
    for attempt in range(attempts):
        if attempt:
            time.sleep(backoff_s * (2 ** (attempt - 1)))
        ae = AE(ae_title=calling_aet)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = float(timeout_s)
        ae.connection_timeout = float(timeout_s)
        contexts = []
        for _, ds in pending:
            key = (str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID))
            if key not in contexts:
                contexts.append(key)
        for cls, ts in contexts:
            ae.add_requested_context(cls, [ts])
        try:
            assoc = ae.associate(peer.host, peer.port, ae_title=peer.aet)
        except Exception as exc:  # socket errors surface here on some platforms
            last = f"cannot connect ({exc})"
            continue
        if not assoc.is_established:
            if assoc.is_rejected:
                last = "association rejected by the peer (check the called AE title "\
                       f"{peer.aet!r} and that it accepts {calling_aet!r})"
            elif assoc.is_aborted:
                last = "association aborted by the peer"
            else:
                last = "no answer (peer absent, port closed or connection timed out)"
            continue
        failed = []
        try:
            for k, (f, ds) in enumerate(pending):
                status = assoc.send_c_store(ds)
                code = getattr(status, "Status", None)
                if code is None:
                    failed.append((f, ds))
                    last = f"{f.name}: no C-STORE response (time-out or aborted association)"
                    if not assoc.is_established:
                        failed.extend(pending[k + 1:])  # not attempted: retry them too
                        break
                    continue
                code = int(code)
                if code == 0x0000 or code in (0xB000, 0xB006, 0xB007):
                    continue
                failed.append((f, ds))
                last = (f"{f.name}: C-STORE failed with status 0x{code:04X} "
                        f"({_status_text(pnd, code)})")
        finally:
            if assoc.is_established:
                assoc.release()
        if not failed:
            return
        pending = failed  # what was stored is not sent again
    raise DicomSendError(
        f"sending to {peer} failed after {attempts} attempt(s): {last}")


def _status_text(pnd, code: int) -> str:
    try:
        from pynetdicom.status import code_to_category

        return code_to_category(code).lower()
    except Exception:  # pragma: no cover
        return "failure"
