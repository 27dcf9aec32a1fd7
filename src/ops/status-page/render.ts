// The status page as server-rendered HTML: one document with inline CSS and a small inline script (no build
// step, no external assets; the CSP nonce admits only these), and the fragment the script swaps in when the
// event stream says something changed. Every value from the fleet, the store or a loop is HTML-escaped. The
// fragment holds absolute times only, so it is the same text while nothing changes (the stream compares it).
import { fleetCounts, type HostState, type StatusLoop, type StatusReservation, type StatusSnapshot } from './model.js';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (v: unknown): string => String(v ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]!);

const STATE_LABEL: Record<HostState, string> = { ready: 'ready', 'not-ready': 'not ready', stale: 'stale', never: 'never reported' };

function time(iso: string | null): string {
  if (!iso) return '<span class="muted">–</span>';
  const shown = iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, 'Z');
  return `<time datetime="${escapeHtml(iso)}">${escapeHtml(shown)}</time>`;
}

const yesNo = (v: boolean | null) => (v === null ? '–' : v ? 'yes' : 'no');

function seconds(ms: number | null): string {
  if (ms === null) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return ms < 7_200_000 ? `${Math.round(ms / 60_000)} min` : `${(ms / 3_600_000).toFixed(1)} h`;
}

function fleetSection(s: StatusSnapshot): string {
  const c = fleetCounts(s.hosts);
  const tiles = (Object.keys(STATE_LABEL) as HostState[])
    .map((k) => `<div class="tile ${k}" data-count="${k}"><b>${c[k]}</b><span>${STATE_LABEL[k]}</span></div>`)
    .join('');
  const rows = s.hosts
    .map(
      (h) =>
        `<tr data-host="${escapeHtml(h.name)}" data-state="${h.state}"><td>${escapeHtml(h.name)}</td><td>${escapeHtml(h.address)}</td>` +
        `<td><span class="badge ${h.state}">${STATE_LABEL[h.state]}</span></td><td>${time(h.heartbeatAt)}</td>` +
        `<td>${yesNo(h.localMode)}</td><td>${yesNo(h.localSession)}</td><td>${escapeHtml(h.issues.join('; '))}</td></tr>`,
    )
    .join('');
  return (
    `<section id="fleet"><h2>Fleet <small>${s.hosts.length} hosts</small></h2><div class="tiles">${tiles}</div>` +
    (s.hosts.length
      ? `<table><thead><tr><th>Host</th><th>Address</th><th>State</th><th>Heartbeat</th><th>Local mode</th><th>Local session</th><th>Issues</th></tr></thead><tbody>${rows}</tbody></table>`
      : '<p class="muted">No hosts in the inventory.</p>') +
    '</section>'
  );
}

function alertsSection(s: StatusSnapshot): string {
  const rows = s.alerts
    .map((a) => `<tr><td>${escapeHtml(a.host)}</td><td>${escapeHtml(a.rule)}</td><td>${escapeHtml(a.message)}</td><td>${time(a.openedAt)}</td></tr>`)
    .join('');
  return (
    `<section id="alerts"><h2>Open alerts <small>${s.alerts.length}</small></h2>` +
    (s.alerts.length ? `<table><thead><tr><th>Host</th><th>Rule</th><th>Message</th><th>Opened</th></tr></thead><tbody>${rows}</tbody></table>` : '<p class="muted">None.</p>') +
    '</section>'
  );
}

function loopRow(l: StatusLoop): string {
  const health = l.healthy ? '<span class="badge ready">healthy</span>' : '<span class="badge not-ready">unhealthy</span>';
  const state = l.kind === 'service' ? (l.running ? 'running' : 'stopped') : l.running ? 'running now' : `every ${seconds(l.intervalMs)}`;
  return (
    `<tr data-loop="${escapeHtml(l.name)}" data-healthy="${l.healthy}"><td>${escapeHtml(l.name)}</td><td>${health}</td><td>${escapeHtml(state)}</td>` +
    `<td>${l.runs}</td><td>${l.failures}</td><td>${time(l.lastFinishedAt)}</td><td>${seconds(l.lastDurationMs)}</td><td>${time(l.lastSuccessAt)}</td>` +
    `<td class="err">${escapeHtml(l.lastError ?? '')}</td></tr>`
  );
}

function loopsSection(s: StatusSnapshot): string {
  return (
    `<section id="loops"><h2>Loops</h2>` +
    (s.loops.length
      ? `<table><thead><tr><th>Loop</th><th>Health</th><th>State</th><th>Runs</th><th>Failures</th><th>Last run</th><th>Took</th><th>Last success</th><th>Last error</th></tr></thead><tbody>${s.loops.map(loopRow).join('')}</tbody></table>`
      : '<p class="muted">Only the API runs in this instance.</p>') +
    '</section>'
  );
}

function dcSection(s: StatusSnapshot): string {
  if (!s.dc) return '';
  const n = (v: number | null) => (v === null ? '–' : String(v));
  const dlq = s.dc.deadLetters ?? 0;
  return (
    `<section id="dc-jobs"><h2>DC job queue</h2><div class="tiles">` +
    `<div class="tile" data-count="dc-waiting"><b>${n(s.dc.waiting)}</b><span>waiting</span></div>` +
    `<div class="tile" data-count="dc-pending"><b>${n(s.dc.pending)}</b><span>in progress</span></div>` +
    `<div class="tile ${dlq > 0 ? 'not-ready' : ''}" data-count="dc-dead-letters"><b>${n(s.dc.deadLetters)}</b><span>dead letters</span></div></div>` +
    (s.dc.error ? `<p class="err">${escapeHtml(s.dc.error)}</p>` : '') +
    '</section>'
  );
}

/** Idle time longer than this between two steps (a reservation's start and its end) is drawn as a break. */
export const TIMELINE_BREAK_MS = 60_000;
const BREAK_PX = 28;

/**
 * The steps of one reservation as horizontal bars on a common time axis: a bar ends when its step was journalled
 * and is as long as the step took. Steps run one after another, so a bar never starts before the previous one
 * ends (the journal's times can be coarser than the durations). Idle stretches longer than TIMELINE_BREAK_MS
 * (hours between the start and the end phase) become a narrow labelled break, so the steps stay readable.
 */
export function timelineSvg(r: StatusReservation): string {
  const steps = r.steps.filter((x) => x.at && Number.isFinite(Date.parse(x.at)));
  if (!steps.length) return '<p class="muted">No steps journalled.</p>';
  let previousEnd = -Infinity;
  const spans = steps.map((x) => {
    const took = Math.max(0, x.durationMs ?? 0);
    const start = Math.max(previousEnd, Date.parse(x.at!) - took);
    const end = Math.max(Date.parse(x.at!), start + took);
    previousEnd = end;
    return { x, start, end };
  });
  // stretches of activity, separated by the breaks
  const segments: { start: number; end: number }[] = [];
  for (const sp of spans) {
    const last = segments.at(-1);
    if (last && sp.start - last.end <= TIMELINE_BREAK_MS) last.end = Math.max(last.end, sp.end);
    else segments.push({ start: sp.start, end: sp.end });
  }
  const label = 170;
  const plot = 460;
  const row = 20;
  const breaks = segments.length - 1;
  const active = Math.max(1, segments.reduce((n, g) => n + (g.end - g.start), 0));
  const scale = (plot - breaks * BREAK_PX) / active;
  const segX: number[] = [];
  segments.reduce((x, g, i) => ((segX[i] = x), x + (g.end - g.start) * scale + BREAK_PX), label);
  const xOf = (t: number) => {
    let i = segments.length - 1;
    while (i > 0 && t < segments[i]!.start) i--;
    return segX[i]! + (Math.min(t, segments[i]!.end) - segments[i]!.start) * scale;
  };
  const height = spans.length * row + 22;
  const bars = spans
    .map(({ x, start, end }, i) => {
      const bx = xOf(start);
      const w = Math.max(3, xOf(end) - bx);
      const y = i * row + 4;
      const tip = `${x.action} ${x.status}${x.durationMs !== null ? ` (${seconds(x.durationMs)})` : ''}${x.message ? `: ${x.message}` : ''}`;
      return (
        `<g class="step" data-action="${escapeHtml(x.action)}" data-success="${x.success}"><title>${escapeHtml(tip)}</title>` +
        `<text x="${label - 6}" y="${y + 12}" text-anchor="end" font-size="11" fill="currentColor">${escapeHtml(x.action)}</text>` +
        `<rect x="${bx.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${row - 6}" rx="2" fill="${x.success ? '#2e9d5b' : '#d0433c'}"></rect></g>`
      );
    })
    .join('');
  const axisY = spans.length * row + 4;
  const gaps = segments
    .slice(1)
    .map((g, i) => {
      const gx = segX[i + 1]! - BREAK_PX / 2;
      return (
        `<g class="break"><line x1="${gx.toFixed(1)}" y1="0" x2="${gx.toFixed(1)}" y2="${axisY}" stroke="#888" stroke-dasharray="3 3"></line>` +
        `<text x="${gx.toFixed(1)}" y="${axisY + 14}" font-size="10" fill="#888" text-anchor="middle">+${escapeHtml(seconds(g.start - segments[i]!.end))}</text></g>`
      );
    })
    .join('');
  const total = segments.at(-1)!.end - segments[0]!.start;
  return (
    `<svg class="timeline" role="img" aria-label="steps of ${escapeHtml(r.id)}" width="${label + plot + 40}" height="${height}" viewBox="0 0 ${label + plot + 40} ${height}">` +
    `${bars}${gaps}<line x1="${label}" y1="${axisY}" x2="${label + plot}" y2="${axisY}" stroke="#888" stroke-width="1"></line>` +
    `<text x="${label}" y="${axisY + 14}" font-size="10" fill="#888">0 s</text>` +
    `<text x="${label + plot}" y="${axisY + 14}" font-size="10" fill="#888" text-anchor="end">${escapeHtml(seconds(Math.max(1, total)))}</text></svg>`
  );
}

function reservationsSection(s: StatusSnapshot): string {
  const items = s.reservations
    .map((r) => {
      const last = r.steps.at(-1);
      const outcome = last ? `${last.action} ${last.status}` : '';
      return (
        `<article class="reservation" data-reservation="${escapeHtml(r.id)}"><h3><code>${escapeHtml(r.id)}</code> <small>${escapeHtml(r.host)}` +
        `${r.labId ? ` · lab ${escapeHtml(r.labId)}` : ''} · ${escapeHtml(outcome)} ${time(last?.at ?? null)}</small></h3>${timelineSvg(r)}</article>`
      );
    })
    .join('');
  return `<section id="reservations"><h2>Last reservations</h2>${items || '<p class="muted">No reservation steps journalled yet.</p>'}</section>`;
}

/** The part of the page that live updates replace. */
export function renderFragment(s: StatusSnapshot): string {
  const problems = s.problems.length ? `<div class="problems">${s.problems.map((p) => `<p class="err">${escapeHtml(p)}</p>`).join('')}</div>` : '';
  return problems + fleetSection(s) + alertsSection(s) + loopsSection(s) + dcSection(s) + reservationsSection(s);
}

const CSS = `
:root{color-scheme:light dark;--fg:#1d2125;--muted:#6b737b;--bg:#fff;--line:#dde1e5;--ok:#2e9d5b;--bad:#d0433c;--warn:#c58a12;--none:#7c8791}
@media (prefers-color-scheme:dark){:root{--fg:#e4e7ea;--muted:#98a1a9;--bg:#15181b;--line:#30363c}}
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:var(--fg);background:var(--bg)}
header{display:flex;gap:1em;align-items:baseline;padding:.8em 1.2em;border-bottom:1px solid var(--line)}
header h1{font-size:1.2em;margin:0}main{padding:0 1.2em 2em}
h2{font-size:1.05em;margin:1.4em 0 .5em}h2 small,h3 small{color:var(--muted);font-weight:normal}h3{font-size:.95em;margin:.8em 0 .3em}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.25em .6em;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;color:var(--muted)}.muted{color:var(--muted)}.err{color:var(--bad)}
.tiles{display:flex;gap:.8em;flex-wrap:wrap;margin-bottom:.6em}.tile{border:1px solid var(--line);border-radius:6px;padding:.4em .9em;min-width:6em}
.tile b{display:block;font-size:1.5em}.tile span{color:var(--muted)}
.tile.ready b{color:var(--ok)}.tile.not-ready b{color:var(--bad)}.tile.stale b{color:var(--warn)}.tile.never b{color:var(--none)}
.badge{border-radius:3px;padding:0 .4em;color:#fff;background:var(--none);white-space:nowrap}
.badge.ready{background:var(--ok)}.badge.not-ready{background:var(--bad)}.badge.stale{background:var(--warn)}
#live{color:var(--muted)}#live.down{color:var(--bad)}svg.timeline{max-width:100%;height:auto}`;

const SCRIPT = `
(() => {
  const live = document.getElementById('live');
  const body = document.getElementById('status');
  const say = (text, down) => { live.textContent = text; live.classList.toggle('down', down); };
  let version = body.dataset.version, busy = false, again = false;
  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const r = await fetch('status/fragment', { credentials: 'same-origin', cache: 'no-store' });
      if (!r.ok) throw new Error('HTTP ' + r.status);
      version = r.headers.get('X-Status-Version') || version;
      body.innerHTML = await r.text();
      body.dataset.version = version;
      say('live · updated ' + new Date().toLocaleTimeString(), false);
    } catch (e) { say('update failed (' + e.message + ')', true); }
    busy = false;
    if (again) { again = false; refresh(); }
  }
  if (!window.EventSource) { say('no live updates in this browser: reload to refresh', true); return; }
  const es = new EventSource('status/events');
  es.addEventListener('update', (e) => { if (e.data !== version) refresh(); });
  es.onopen = () => say('live', false);
  es.onerror = () => say('disconnected, retrying…', true);
})();`;

/** The whole document around a fragment from renderFragment. */
export function renderPage(instance: string, fragment: string, o: { version: string; nonce: string }): string {
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<title>labops · ${escapeHtml(instance)}</title><style nonce="${o.nonce}">${CSS}</style></head><body>` +
    `<header><h1>labops daemon <code>${escapeHtml(instance)}</code></h1><span id="live">loaded ${escapeHtml(new Date().toISOString().slice(11, 19))} UTC</span></header>` +
    `<main id="status" data-version="${escapeHtml(o.version)}">${fragment}</main>` +
    `<script nonce="${o.nonce}">${SCRIPT}</script></body></html>`
  );
}
