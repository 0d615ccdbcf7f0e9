"""The ``skindose serve`` and ``skindose registry`` subcommands (see ``docs/node.md``)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]

_SERVE_EPILOG = """\
examples:
  skindose serve --data-dir /srv/skindose                       loopback, port 11112, AE SKINDOSE
  skindose serve --data-dir D --bind 0.0.0.0 --allow-aet CATHLAB1 --allow-aet CATHLAB2
  skindose serve --data-dir D --tls-cert s.pem --tls-key s.key --tls-ca ca.pem
  skindose serve --data-dir D --alert-gy 3 --alert-gy 5 --alert-command "notify-physicist"
  skindose serve --data-dir D --forward PACS@pacs.example.org:104

the data directory holds instances/, reports/, registry.sqlite, alerts.jsonl, node.log and
index.html (open it in a browser). Exit codes: 0 (--once), 2 bad options, 143 SIGTERM, 130 SIGINT.
"""


def register(subparsers: Any) -> None:
    """Add ``serve`` and ``registry`` to the ``skindose`` parser's subparsers."""
    s = subparsers.add_parser(
        "serve", help="DICOM dose consumer: receive RDSRs, compute, watch cumulative dose",
        description="Receive RDSRs over DICOM (C-STORE), store each durably before "
        "acknowledging it, compute its skin dose map in worker processes, add each patient's "
        "procedures within a window, raise alerts, keep DIR/index.html up to date. Needs "
        "pip install 'skindose[node]'.",
        epilog=_SERVE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--data-dir", type=Path, required=True, metavar="DIR")
    s.add_argument("--port", type=int, default=11112, help="TCP port (default 11112; 0: any)")
    s.add_argument("--bind", default="127.0.0.1", metavar="ADDRESS",
                   help="listen address (default 127.0.0.1: this machine only)")
    s.add_argument("--aet", default="SKINDOSE", help="our AE title (default SKINDOSE)")
    s.add_argument("--allow-aet", action="append", default=[], metavar="AET",
                   help="accept only these calling AE titles (repeat; default: any)")
    s.add_argument("--tls-cert", type=Path, metavar="FILE", help="TLS server certificate (PEM)")
    s.add_argument("--tls-key", type=Path, metavar="FILE", help="TLS server key (PEM)")
    s.add_argument("--tls-ca", type=Path, metavar="FILE",
                   help="require client certificates signed by this CA (PEM)")
    s.add_argument("--workers", type=int, default=2, metavar="N",
                   help="worker processes computing doses (default 2)")
    s.add_argument("--max-dataset-mb", type=float, default=64.0, metavar="MB",
                   help="largest dataset accepted (default 64 MB)")
    s.add_argument("--max-associations", type=int, default=10, metavar="N",
                   help="concurrent associations (default 10)")
    s.add_argument("--timeout", type=float, default=60.0, metavar="S",
                   help="network, ACSE and DIMSE time-outs (default 60 s)")
    s.add_argument("--forward", action="append", default=[], metavar="AET@HOST:PORT",
                   help="send each result (P-RDSR + image) there; queued and retried (repeat)")
    s.add_argument("--window-days", type=float, default=60.0, metavar="DAYS",
                   help="cumulative dose window (default 60 days, NCRP Report 168)")
    s.add_argument("--alert-gy", type=float, action="append", default=None, metavar="GY",
                   help="alert level for procedure or cumulative PSD (repeat; default 3 Gy, "
                   "the NCRP 168 substantial radiation dose level)")
    s.add_argument("--alert-command", metavar="CMD",
                   help="run CMD with each alert's JSON on standard input")
    s.add_argument("--smtp", metavar="HOST[:PORT]", help="send alerts by e-mail through HOST")
    s.add_argument("--smtp-from", default="skindose@localhost", metavar="ADDRESS")
    s.add_argument("--smtp-to", action="append", default=[], metavar="ADDRESS")
    s.add_argument("--phantom", default=None,
                   help="adult | cylinder | plane | mesh file (default: adult scaled to the "
                   "patient)")
    s.add_argument("--cell-area-cm2", type=float, default=None)
    s.add_argument("--settings", type=Path, metavar="FILE.toml",
                   help="settings file (see skindose.Settings for the keys)")
    s.add_argument("--report", choices=("full", "summary"), default="full",
                   help="report folder per result: full (figures, report.html) or summary "
                   "(summary.json and dose_map.npz)")
    s.add_argument("--log-patient-ids", action="store_true",
                   help="write patient IDs into node.log (default: a short hash only)")
    s.add_argument("--once", action="store_true",
                   help="stop after the first association and its results")
    s.add_argument("--quiet", action="store_true", help="log to DIR/node.log only")
    s.set_defaults(func=_serve, own_signals=True)  # serve stops gracefully itself

    r = subparsers.add_parser(
        "registry", help="list or show what a node's registry holds",
        description="Read a skindose serve data directory (safe while the node runs).")
    r.add_argument("--data-dir", type=Path, required=True, metavar="DIR")
    rs = r.add_subparsers(dest="registry_command", metavar="ACTION", required=True)
    li = rs.add_parser("list", help="one line per patient")
    li.add_argument("--json", action="store_true")
    sh = rs.add_parser("show", help="one instance (id or SOP Instance UID) or patient key")
    sh.add_argument("id", metavar="ID")
    sh.add_argument("--json", action="store_true")
    ck = rs.add_parser("check", help="counts and the database integrity check")
    ck.add_argument("--json", action="store_true")
    r.set_defaults(func=_registry)


def _config(args: argparse.Namespace):
    from skindose.node.config import DEFAULT_ALERT_LEVELS_GY, NodeConfig

    smtp_host, smtp_port = None, 25
    if args.smtp:
        host, _, port = args.smtp.rpartition(":") if ":" in args.smtp else (args.smtp, "", "")
        smtp_host = host or args.smtp
        if port:
            try:
                smtp_port = int(port)
            except ValueError:
                from skindose.errors import ConfigurationError

                raise ConfigurationError(f"--smtp {args.smtp!r}: port is not a number") from None
    return NodeConfig(
        data_dir=args.data_dir, port=args.port, bind=args.bind, aet=args.aet,
        allow_aets=tuple(args.allow_aet), tls_cert=args.tls_cert, tls_key=args.tls_key,
        tls_ca=args.tls_ca, workers=args.workers,
        max_dataset_bytes=int(args.max_dataset_mb * 1024 * 1024),
        max_associations=args.max_associations, network_timeout_s=args.timeout,
        forward=tuple(args.forward), window_days=args.window_days,
        alert_levels_gy=tuple(args.alert_gy or DEFAULT_ALERT_LEVELS_GY),
        alert_command=args.alert_command, smtp_host=smtp_host, smtp_port=smtp_port,
        smtp_from=args.smtp_from, smtp_to=tuple(args.smtp_to), phantom=args.phantom,
        cell_area_cm2=args.cell_area_cm2, settings_file=args.settings, report=args.report,
        log_patient_ids=args.log_patient_ids, once=args.once,
    )


def _serve(args: argparse.Namespace) -> int:
    from skindose.node import require_pynetdicom
    from skindose.node.scp import DoseNode

    require_pynetdicom()
    cfg = _config(args)
    os.umask(0o077)  # reports, logs, the registry: owner only
    logger = logging.getLogger("skindose.node")
    if not args.quiet:
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(logging.Formatter("skindose serve: %(message)s"))
        logger.addHandler(h)
    logging.getLogger("pynetdicom").setLevel(logging.CRITICAL)
    return DoseNode(cfg).serve_forever()


def _registry(args: argparse.Namespace) -> int:
    from skindose.errors import ConfigurationError
    from skindose.jsonsafe import format_dose, jsonable
    from skindose.node.registry import open_registry

    if not (args.data_dir / "registry.sqlite").is_file():
        raise ConfigurationError(f"{args.data_dir}: no registry.sqlite (not a serve data "
                                 "directory)")
    reg = open_registry(args.data_dir)
    try:
        if args.registry_command == "list":
            rows = reg.overview()
            if args.json:
                _dump([{k: v for k, v in p.items() if k != "procedures"}
                       | {"n_procedures": len(p["procedures"]),
                          "states": sorted({d["state"] for d in p["procedures"]})}
                       for p in rows])
                return 0
            print(f"{'patient':<28} {'procs':>5} {'max PSD':>10} {'max cumul.':>10}  alerts")
            for p in rows:
                alerts = ", ".join(f"{a['level_gy']:g} Gy ({a['kind']})" for a in p["alerts"])
                print(f"{str(p['patient_id'] or p['patient_key'])[:28]:<28} "
                      f"{len(p['procedures']):>5} {format_dose(p['max_psd_gy']):>10} "
                      f"{format_dose(p['max_cumulative_psd_gy']):>10}  {alerts or '-'}")
            return 0
        if args.registry_command == "check":
            d = reg.counts() | {"integrity_check": reg.integrity_check()}
            if args.json:
                _dump(d)
            else:
                for k, v in d.items():
                    print(f"{k}: {v}")
            return 0 if d["integrity_check"] == "ok" else 2
        d = reg.instance(args.id)
        if d is None:
            pats = [p for p in reg.overview() if args.id in (p["patient_key"], p["patient_id"])]
            if not pats:
                raise ConfigurationError(f"{args.id!r}: no such instance or patient")
            d = pats[0]
            d["cumulative"] = reg.cumulative_for(d["patient_key"])
        if args.json:
            _dump(jsonable(d))
        else:
            for k, v in d.items():
                print(f"{k}: {json.dumps(jsonable(v)) if isinstance(v, dict | list) else v}")
        return 0
    finally:
        reg.close()


def _dump(obj: Any) -> None:
    from skindose.jsonsafe import jsonable

    json.dump(jsonable(obj), sys.stdout, indent=2, allow_nan=False)
    print()
