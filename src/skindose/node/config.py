"""The node's configuration (one frozen dataclass, built from the ``serve`` command line)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skindose.errors import ConfigurationError

__all__ = ["DEFAULT_ALERT_LEVELS_GY", "DEFAULT_WINDOW_DAYS", "NodeConfig"]

#: Default alert level: the NCRP Report 168 substantial radiation dose level for peak skin dose.
DEFAULT_ALERT_LEVELS_GY = (3.0,)
#: Default accumulation window (days). NCRP Report 168 (2010) recommends that skin doses from
#: procedures performed within about 60 days be added when judging the need for patient
#: follow-up; see ``docs/node.md`` for the wording and its status.
DEFAULT_WINDOW_DAYS = 60.0


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeConfig:
    """Everything ``skindose serve`` is told.

    Parameters
    ----------
    data_dir
        The data directory: ``instances/``, ``reports/``, ``registry.sqlite``,
        ``alerts.jsonl``, ``node.log`` and ``index.html``.
    port, bind, aet
        Listening port (0: any free port), address (default loopback) and our AE title.
    allow_aets
        Calling AE titles accepted (empty: any).
    tls_cert, tls_key, tls_ca
        Server certificate and key for TLS; with ``tls_ca`` the client must present a
        certificate signed by it.
    workers
        Worker processes computing doses.
    max_dataset_bytes
        Largest dataset accepted (bigger ones are refused with 0xA700, out of resources).
    max_associations
        Concurrent associations (pynetdicom rejects more, "local limit exceeded").
    network_timeout_s
        ACSE, DIMSE and network time-outs (s).
    forward
        Peers (``AET@HOST:PORT``) each result is forwarded to as P-RDSR + image.
    forward_retry_s
        First retry delay of a failed forward (doubled up to 10 minutes).
    window_days
        Accumulation window for the per-patient cumulative skin dose.
    alert_levels_gy
        PSD levels at which an alert is raised (once per patient and level).
    alert_command
        Command run with the alert JSON on standard input (split like a shell would).
    smtp_host, smtp_port, smtp_from, smtp_to
        E-mail alerts through this SMTP server (no e-mail when ``smtp_host`` is None).
    phantom, cell_area_cm2
        Phantom for every computation (``adult``, ``cylinder``, ``plane`` or a mesh file; None:
        the default adult scaled to the patient) and its cell size.
    settings_file
        A skindose settings TOML file.
    report
        ``"full"`` (``SkinDoseMap.save``: summary, map, figures, report.html) or ``"summary"``
        (summary.json and dose_map.npz only: fast).
    log_patient_ids
        Write patient IDs in ``node.log`` (default: a short hash of the patient key only).
    once
        Stop after the first association has ended and its instances are processed.
    """

    data_dir: Path
    port: int = 11112
    bind: str = "127.0.0.1"
    aet: str = "SKINDOSE"
    allow_aets: tuple[str, ...] = ()
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None
    workers: int = 2
    max_dataset_bytes: int = 64 * 1024 * 1024
    max_associations: int = 10
    network_timeout_s: float = 60.0
    forward: tuple[str, ...] = ()
    forward_retry_s: float = 10.0
    window_days: float = DEFAULT_WINDOW_DAYS
    alert_levels_gy: tuple[float, ...] = DEFAULT_ALERT_LEVELS_GY
    alert_command: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "skindose@localhost"
    smtp_to: tuple[str, ...] = ()
    phantom: str | None = None
    cell_area_cm2: float | None = None
    settings_file: Path | None = None
    report: str = "full"
    log_patient_ids: bool = False
    once: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        if not 0 <= self.port <= 65535:
            raise ConfigurationError(f"--port {self.port}: must be 0-65535")
        if not 1 <= len(self.aet) <= 16 or "\\" in self.aet:
            raise ConfigurationError(f"--aet {self.aet!r}: an AE title has 1-16 characters and "
                                     "no backslash (PS3.5, AE)")
        if self.workers < 1:
            raise ConfigurationError("--workers must be at least 1")
        if self.max_dataset_bytes < 1024:
            raise ConfigurationError("--max-dataset-mb is too small")
        if self.max_associations < 1:
            raise ConfigurationError("--max-associations must be at least 1")
        if not self.window_days > 0:
            raise ConfigurationError("--window-days must be positive")
        if any(not (lv > 0) for lv in self.alert_levels_gy):
            raise ConfigurationError("--alert-gy levels must be positive")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigurationError("--tls-cert and --tls-key go together")
        if self.tls_ca is not None and self.tls_cert is None:
            raise ConfigurationError("--tls-ca needs --tls-cert and --tls-key")
        if self.report not in ("full", "summary"):
            raise ConfigurationError("--report must be 'full' or 'summary'")
        if self.smtp_host and not self.smtp_to:
            raise ConfigurationError("--smtp needs at least one --smtp-to address")
        if self.forward:
            from skindose.dicom_out import parse_peer

            for f in self.forward:
                parse_peer(f)

    def to_dict(self) -> dict[str, Any]:
        """Plain types (for the worker processes)."""
        d = dataclasses.asdict(self)
        for k, v in d.items():
            if isinstance(v, Path):
                d[k] = str(v)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NodeConfig:
        """Inverse of :meth:`to_dict`."""
        kw = dict(d)
        for k in ("data_dir", "tls_cert", "tls_key", "tls_ca", "settings_file"):
            if kw.get(k) is not None:
                kw[k] = Path(kw[k])
        for k in ("allow_aets", "forward", "alert_levels_gy", "smtp_to"):
            kw[k] = tuple(kw.get(k) or ())
        return cls(**kw)
