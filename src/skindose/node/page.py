"""``DIR/index.html``: patients, procedures, PSD, cumulative PSD, alerts, links to each report.

Self-contained (inline CSS and a few lines of JavaScript for filtering; no network access), written
to a temporary file and renamed into place so that a browser never reads half a page. Patient
names are shown (the page lives in the protected data directory, for the physicist); the log
never shows them.
"""

from __future__ import annotations

import html
import os
import time
from pathlib import Path
from typing import Any

from skindose.node.registry import Registry
from skindose.node.storage import FILE_MODE

__all__ = ["render_index", "write_index"]

_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}table{border-collapse:collapse;width:100%;margin-bottom:1.5em}
th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f0f0f0}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.alert td{background:#fde2e2}.state-failed{color:#a00}.state-not_applicable{color:#777}
.muted{color:#777}.badge{display:inline-block;padding:0 .4em;border-radius:.3em;
background:#c00;color:#fff;margin-right:.3em}
"""

_JS = """
(function(){
  var q=document.getElementById('filter'), only=document.getElementById('only-alerts');
  function apply(){
    var t=(q.value||'').toLowerCase(), n=0;
    document.querySelectorAll('tbody tr.patient').forEach(function(r){
      var show=(!t||r.textContent.toLowerCase().indexOf(t)>=0)&&
               (!only.checked||r.classList.contains('alert'));
      r.style.display=show?'':'none'; if(show) n++;
    });
    document.getElementById('shown').textContent=String(n);
  }
  q.addEventListener('input',apply); only.addEventListener('change',apply); apply();
  document.body.setAttribute('data-ready','1');
})();
"""


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x))


def _gy(x: Any) -> str:
    from skindose.jsonsafe import format_dose

    return format_dose(x) if x is not None else "–"


def _link(report_dir: str | None, data_dir: Path, text: str) -> str:
    if not report_dir:
        return ""
    for name in ("report.html", "summary.json"):
        if (data_dir / report_dir / name).exists():
            return f'<a href="{_e(report_dir)}/{name}">{_e(text)}</a>'
    return ""


def render_index(registry: Registry, data_dir: Path, *, title: str = "skindose node") -> str:
    """The page's HTML."""
    counts = registry.counts()
    patients = registry.overview()
    patients.sort(key=lambda p: -(p["max_cumulative_psd_gy"] or p["max_psd_gy"] or 0.0))
    rows = []
    for p in patients:
        alerted = bool(p["alerts"])
        badges = "".join(f'<span class="badge">{a["level_gy"]:g} Gy {_e(a["kind"])}</span>'
                         for a in p["alerts"])
        procs = []
        for d in p["procedures"]:
            state = d["state"]
            line = [f'<span class="state-{_e(state)}">{_e(state)}</span>',
                    _e(d.get("procedure_date") or ""), _e(d.get("device") or ""),
                    f"PSD {_gy(d.get('psd_gy'))}" if d.get("psd_gy") is not None else "",
                    (f"cumulative {_gy(d.get('cumulative_psd_gy'))} "
                     f"({len((d.get('cumulative_contributing') or {}).get('ids', []))} proc.)")
                    if d.get("cumulative_psd_gy") is not None else "",
                    _link(d.get("report_dir"), data_dir, "report"),
                    _link(d.get("cumulative_report_dir"), data_dir, "cumulative report"),
                    f'<span class="muted">{_e(d.get("error"))}</span>' if d.get("error")
                    else ""]
            procs.append("<li>" + " · ".join(x for x in line if x) + "</li>")
        rows.append(
            f'<tr class="patient{" alert" if alerted else ""}">'
            f"<td>{_e(p['patient_id'] or p['patient_key'])}</td>"
            f"<td>{_e(p['patient_name'] or '')}</td>"
            f'<td class="num">{len(p["procedures"])}</td>'
            f'<td class="num">{_gy(p["max_psd_gy"])}</td>'
            f'<td class="num">{_gy(p["max_cumulative_psd_gy"])}</td>'
            f"<td>{badges or '<span class=muted>none</span>'}</td>"
            f"<td><ul>{''.join(procs)}</ul></td></tr>")
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
    summary = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in sorted(counts.items()))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title><style>{_CSS}</style></head>
<body data-ready="0">
<h1>{_e(title)}: patients and skin doses</h1>
<p class="muted">Updated {stamp}. {_e(summary)}.</p>
<p><label>Filter <input id="filter" type="search"></label>
<label><input id="only-alerts" type="checkbox"> only patients with alerts</label>
— <span id="shown">{len(rows)}</span> of <span id="total">{len(rows)}</span> shown</p>
<table id="patients"><thead><tr><th>Patient ID</th><th>Name</th><th>Procedures</th>
<th>Highest PSD</th><th>Highest cumulative PSD</th><th>Alerts</th><th>Procedures</th></tr>
</thead><tbody>
{''.join(rows)}
</tbody></table>
<p class="muted">PSD: peak skin dose of one procedure. Cumulative PSD: peak of the summed skin
dose map of the procedures in the accumulation window ending at that procedure.</p>
<script>{_JS}</script>
</body></html>
"""


def write_index(registry: Registry, data_dir: str | os.PathLike[str]) -> Path:
    """Write ``index.html`` atomically; returns its path."""
    d = Path(data_dir)
    text = render_index(registry, d).encode("utf-8")
    tmp = d / f".index-{os.getpid()}-{os.urandom(4).hex()}.html"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        os.write(fd, text)
    finally:
        os.close(fd)
    final = d / "index.html"
    os.replace(tmp, final)
    return final
