"""results/report.html: the runs of a matrix as one static page (written by harness.matrix).

It opens with the summary (harness/summary.py): families as rows, runs as
columns, each cell the counts of pass, known bug, fail and skip, coloured by
the worst of them; each count links to the instances it counts in the list
below (it sets the list's filters).  In the list, rows are case instances, columns (QEMU, CPU) runs; each cell shows the
outcome (pass, FAIL, xfail, XPASS, skip) and whether the run matches the
architecture.  Filters by family and by "differs"; a click on a cell opens its
decoded steps: expected, observed and, where the results carry them, the
model's outcomes and the walk.  Everything (data, style, script) is inside
the one file: it opens from disk with no network.
"""
import html
import json
from pathlib import Path

from harness.bugs import FIXED, SHOWS, UNEXPLAINED, seen, seen_text
from harness.matrix import SHORT_OUTCOME, architecture, differs
from harness.results import describe_excused
from harness.summary import ALL, KINDS, family, kind, summary

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1em 2em; color: #222; }
h1 { font-size: 1.3em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 2px 6px; }
thead th { background: #eee; position: sticky; top: 0; }
td.id { font-family: monospace; white-space: nowrap; }
td.cell { text-align: center; cursor: pointer; min-width: 5.5em; font-weight: 600; }
td.cell:hover, td.cell.selected { outline: 2px solid #333; }
.passed, .xpassed-ok { background: #cdeccd; }
.failed { background: #f4b6b6; }
.xfailed { background: #f7dfa8; }
.xpassed { background: #f4b6b6; }
.skipped, .absent { background: #e4e4e4; color: #666; }
.error { background: #d08080; }
tr.differs td.id { border-left: 4px solid #c60; }
#controls { margin: .8em 0; display: flex; gap: 1.5em; align-items: center; }
#detail { margin-top: 1em; border: 2px solid #333; padding: .5em 1em; background: #fafafa; }
#detail table td { font-family: monospace; font-size: 12px; vertical-align: top; white-space: pre-wrap; }
#detail .bad { background: #f4b6b6; }
#detail .good { background: #cdeccd; }
.legend span { padding: 0 .4em; margin-right: .4em; }
#summary td { text-align: right; font-family: monospace; white-space: nowrap; }
#summary td.family { text-align: left; }
#summary tr.all td { font-weight: 600; border-top: 2px solid #333; }
#summary .k-pass { background: #cdeccd; }
#summary .k-known-bug { background: #f7dfa8; }
#summary .k-fail { background: #f4b6b6; }
#summary .k-skip { background: #e4e4e4; }
#summary a, #summary span.zero { display: inline-block; min-width: 2.2em; padding: 0 .2em; }
#summary span.zero { color: #999; }
#bugs td { vertical-align: top; }
#bugs td.versions { white-space: nowrap; }
#bugs td.seen { white-space: nowrap; text-align: center; }
#bugs td.seen details ul { white-space: normal; text-align: left; margin: 0; padding-left: 1em; }
#bugs .shows { background: #f7dfa8; }
#bugs .fixed { background: #cdeccd; }
#bugs .unexplained { background: #f4b6b6; }
#bugs .not-run { background: #e4e4e4; color: #666; }
"""

SCRIPT = r"""
const DATA = JSON.parse(document.getElementById('data').textContent);
const body = document.querySelector('#matrix tbody');
const mark = {matches: '\u2713', breaks: '\u2717', 'not run': '-'};
function esc(s) { return String(s).replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c])); }
function render() {
  const fam = document.getElementById('family').value;
  const onlyDiff = document.getElementById('differs').checked;
  const run = document.getElementById('run').value, kind = document.getElementById('kind').value;
  let shown = 0, rows = [];
  for (const inst of DATA.instances) {
    if (fam && inst.family !== fam) continue;
    if (onlyDiff && !inst.differs) continue;
    if (kind && !inst.cells.some((c, r) => c && c.kind === kind && (run === '' || r === +run))) continue;
    shown++;
    let tr = `<tr class="${inst.differs ? 'differs' : ''}"><td class="id" title="${esc(inst.summary)}">${esc(inst.id)}</td>`;
    inst.cells.forEach((c, r) => {
      const cls = c ? c.outcome + (c.outcome === 'xpassed' && c.arch === 'matches' ? '-ok' : '') : 'absent';
      const text = c ? `${c.short} ${mark[c.arch]}` : 'absent';
      tr += `<td class="cell ${cls}" data-i="${inst.index}" data-r="${r}" title="${esc(DATA.runs[r].label)}: ${c ? esc(c.arch) : 'absent'}">${text}</td>`;
    });
    rows.push(tr + '</tr>');
  }
  body.innerHTML = rows.join('');
  document.getElementById('count').textContent = `${shown} of ${DATA.instances.length} instances shown`;
}
function openCell(i, r) {
  const inst = DATA.instances[i], c = inst.cells[r], run = DATA.runs[r];
  const d = document.getElementById('detail');
  let h = `<h2>${esc(inst.id)} on QEMU ${esc(run.label)}</h2><p>${esc(inst.summary)}</p>`;
  if (!c) { d.innerHTML = h + '<p>not in this run</p>'; d.hidden = false; return; }
  h += `<p>outcome: <b>${esc(c.outcome)}</b>; architecture: <b>${esc(c.arch)}</b>` +
       (c.reason ? `<br>reason: ${esc(c.reason)}` : '') + '</p>';
  if (c.problems.length) h += '<p>problems: ' + c.problems.map(esc).join('<br>') + '</p>';
  const hasModel = c.steps.some(s => 'model' in s), hasWalk = c.steps.some(s => 'walk' in s);
  h += '<table class="steps"><tr><th>n</th><th>op</th><th>va</th><th>expected</th><th>observed</th>' +
       (hasModel ? '<th>model</th>' : '') + (hasWalk ? '<th>walk</th>' : '') + '<th>problems</th></tr>';
  for (const s of c.steps) {
    h += `<tr class="${s.ok && !(s.known_bugs || []).length ? 'good' : 'bad'}"><td>${s.n}</td><td>${esc(s.op)}</td><td>${esc(s.va)}</td>` +
         `<td>${esc(s.expected)}</td><td>${esc(s.observed)}</td>` +
         (hasModel ? `<td>${esc(s.model ?? '')}</td>` : '') +
         (hasWalk ? `<td>${esc((s.walk ?? []).join('\n'))}</td>` : '') +
         `<td>${esc(s.problems.concat(s.unjudged ? ['not judged by the model: ' + s.unjudged] : []).join('\n'))}</td></tr>`;
  }
  d.innerHTML = h + '</table>';
  d.hidden = false;
  d.scrollIntoView();
}
body.addEventListener('click', e => {
  const td = e.target.closest('td.cell');
  if (!td) return;
  for (const old of document.querySelectorAll('td.cell.selected')) old.classList.remove('selected');
  td.classList.add('selected');
  openCell(+td.dataset.i, +td.dataset.r);
});
const famSel = document.getElementById('family');
for (const f of DATA.families) famSel.insertAdjacentHTML('beforeend', `<option>${esc(f)}</option>`);
famSel.addEventListener('change', render);
const runSel = document.getElementById('run'), kindSel = document.getElementById('kind');
DATA.runs.forEach((r, i) => runSel.insertAdjacentHTML('beforeend', `<option value="${i}">${esc(r.label)}</option>`));
for (const k of DATA.kinds) kindSel.insertAdjacentHTML('beforeend', `<option>${esc(k)}</option>`);
for (const control of [runSel, kindSel, document.getElementById('differs')]) control.addEventListener('change', render);
// A count of the summary shows the instances it counts: it sets the list's filters (the link scrolls to the list).
document.getElementById('summary').addEventListener('click', e => {
  const a = e.target.closest('a[data-kind]');
  if (!a) return;
  famSel.value = a.dataset.family; runSel.value = a.dataset.run; kindSel.value = a.dataset.kind;
  document.getElementById('differs').checked = false;
  render();
});
render();
"""


def report_data(runs, findings=()):
    """The page's data: runs, and per instance its cells (None where a run lacks it)."""
    run_entries = [r.entries() for r in runs]
    cpus = [r.doc["cpu"] for r in runs]
    ids = sorted(set().union(*run_entries))
    instances = []
    for index, case_id in enumerate(ids):
        entries = [e.get(case_id) for e in run_entries]
        rule = next(e["summary"] for e in entries if e is not None)
        cells = [None if e is None else {
            "outcome": e["outcome"], "short": SHORT_OUTCOME.get(e["outcome"], e["outcome"]),
            "kind": kind(e["outcome"]), "arch": architecture(e), "reason": e.get("reason"), "problems": e["problems"], "steps": e["steps"],
        } for e in entries]
        instances.append({"index": index, "id": case_id, "family": family(case_id), "summary": rule,
                          "differs": differs(entries, cpus), "cells": cells})
    return {"runs": [{"label": r.label, "path": str(r.path), "qemu": r.doc.get("qemu"),
                      "counts": r.doc.get("counts", {})} for r in runs],
            "families": sorted({i["family"] for i in instances}), "kinds": list(KINDS), "instances": instances,
            "findings": [list(f) for f in findings]}


def summary_table(runs):
    """The summary grid's HTML: a row per family and one for all, a cell per run; each
    non-zero count a link that filters the list to the instances it counts."""
    families, counts = summary(runs)
    head = "".join(f"<th>{html.escape(r.label)}</th>" for r in runs)
    rows = []
    for fam in [*families, ALL]:
        cells = []
        for i, counter in enumerate(counts[fam]):
            worst = next((k for k in ("fail", "known bug", "pass", "skip") if counter[k]), "skip")
            links = "".join(
                f'<a href="#matrix" class="n" data-family="{"" if fam == ALL else html.escape(fam)}" data-run="{i}" '
                f'data-kind="{k}" title="{counter[k]} {k}">{counter[k]}</a>' if counter[k] else '<span class="zero">0</span>'
                for k in KINDS)
            cells.append(f'<td class="k-{worst.replace(" ", "-")}">{links}</td>')
        label = "all families" if fam == ALL else html.escape(fam)
        rows.append(f'<tr class="{"all" if fam == ALL else ""}"><td class="family">{label}</td>{"".join(cells)}</tr>')
    return (f'<table id="summary"><thead><tr><th>family</th>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


SEEN_CLASS = {SHOWS: "shows", FIXED: "fixed", UNEXPLAINED: "unexplained"}
SEEN_WORD = {SHOWS: "shows it", FIXED: "no", UNEXPLAINED: "departs, unexplained"}


def _excused(s):
    """A run's cell of a bug it shows: the count, opening to the steps it excuses, instance by instance."""
    by_case = {}
    for case, n in s.steps:
        by_case.setdefault(case, []).append(n)
    items = "".join(f"<li><code>{html.escape(c)}</code>: {html.escape(describe_excused(ns))}</li>"
                    for c, ns in by_case.items())
    return f'<details class="excused"><summary>{SEEN_WORD[SHOWS]} ({len(s.steps)})</summary><ul>{items}</ul></details>'


def bugs_table(bugs, runs):
    """The known-bug catalogue (harness/bugs.py): a row per bug, a cell per run saying whether
    the model's verdicts show it there; the cell's title has the figures."""
    esc = html.escape
    head = "".join(f"<th>{esc(r.label)}</th>" for r in runs)
    rows = []
    for b in bugs:
        ranges = " / ".join(sorted(set(b.ranges.values())))
        cells = "".join(
            f'<td class="seen {SEEN_CLASS.get(s.state, "not-run")}" title="{esc(seen_text(s))}">'
            + (_excused(s) if s.state == SHOWS else SEEN_WORD.get(s.state, "not run")) + '</td>'
            for s in (seen(b, r) for r in runs))
        cases = "".join(f"<li><code>{esc(c)}</code></li>" for c in b.cases)
        rows.append(f'<tr><td><b>{esc(b.name)}</b></td><td>{esc(b.rule or "(no rule given)")}</td>'
                    f'<td>{esc(b.behaviour)}</td><td class="versions"><code>{esc(ranges)}</code><br>first fixed: '
                    f'{esc(b.first_fixed or "none known")}</td>'
                    f'<td><details><summary>{len(b.cases)}</summary><ul>{cases}</ul></details></td>{cells}</tr>')
    return (f'<table id="bugs"><thead><tr><th>bug</th><th>rule broken (M.a.a)</th><th>QEMU does</th>'
            f'<th>versions</th><th>cases</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>')


BUGS_INTRO = """<h2>Known QEMU bugs</h2>
<p>Every known bug the case files mark, and whether each run shows it, from the model's verdicts: "shows it"
(how many steps the model explains by that bug), "no" (its marked cases match the architecture), "departs,
unexplained" (they do not, and no step is explained by it: no model variant, or a QEMU outside its range).</p>
"""


def render(runs, findings=(), bugs=()):
    data = report_data(runs, findings)
    n_diff = sum(i["differs"] for i in data["instances"])
    runs_list = "".join(
        f"<li><b>QEMU {html.escape(r['label'])}</b>: "
        f"{html.escape(', '.join(f'{n} {k}' for k, n in sorted(r['counts'].items())))} "
        f"<small>({html.escape(r['path'])}; {html.escape(str(r['qemu']))})</small></li>" for r in data["runs"])
    findings_list = "".join(f"<li><code>{html.escape(c)}</code>: {html.escape(t)}</li>" for c, t in findings)
    head = "".join(f"<th>{html.escape(r['label'])}</th>" for r in data["runs"])
    bugs_html = BUGS_INTRO + bugs_table(bugs, runs) if bugs else ""
    # The data goes in a JSON script element; "</" is escaped so no string in it can close the element.
    payload = json.dumps(data).replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>MMU conformance: QEMU matrix</title>
<style>{STYLE}</style></head><body>
<h1>AArch64 MMU conformance: {len(data['instances'])} case instances on {len(data['runs'])} runs,
{n_diff} differ</h1>
<ul id="runs">{runs_list}</ul>
<h2>Summary</h2>
<p>Instances per family and run: {' / '.join(KINDS)} (the known bugs are the xfails: departures the known-bug
marks explain).  A count shows its instances in the list below.</p>
{summary_table(runs)}
{bugs_html}
{f'<h2>Known-bug marks and regressions</h2><ul id="findings">{findings_list}</ul>' if findings else ''}
<p class="legend"><span class="passed">pass</span><span class="failed">FAIL</span><span class="xfailed">xfail
(known bug)</span><span class="skipped">skip</span>
&#x2713; matches the architecture, &#x2717; does not, - not run; FAIL &#x2713; is a known-bug mark whose bug
is fixed there (strict XPASS).  Click a cell for its steps.</p>
<div id="controls"><label>family <select id="family"><option value="">all</option></select></label>
<label>run <select id="run"><option value="">any</option></select></label>
<label>is <select id="kind"><option value="">any</option></select></label>
<label><input type="checkbox" id="differs"> only instances that differ</label><span id="count"></span></div>
<table id="matrix"><thead><tr><th>instance</th>{head}</tr></thead><tbody></tbody></table>
<div id="detail" hidden></div>
<script type="application/json" id="data">{payload}</script>
<script>{SCRIPT}</script>
</body></html>
"""


def write_report(path, runs, findings=(), bugs=()):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(runs, findings, bugs))

