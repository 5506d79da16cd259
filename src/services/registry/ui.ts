// The registry's web pages, rendered on the server as plain HTML (no script, no build
// step): the machine list (search, filters, sorting), a machine's page (inventory, changes
// over time, deployments with their events as a timeline, audit log) and the two-step
// state change. Pure: data in, HTML out.

import {formatSize, type HardwareInventory} from '../../core/inventory.js';
import {MACHINE_STATES, TRANSITIONS, type MachineState} from '../../core/registry/lifecycle.js';
import type {Deployment, MachineRecord, MachineSummary} from './registry.js';

export const escapeHtml = (s: unknown): string => String(s ?? '').replace(/[&<>"']/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'})[c]!);
const e = escapeHtml;

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:10px 24px}header a{color:#fff;text-decoration:none;font-weight:600}
main{padding:16px 24px;max-width:1200px}table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #e3e6eb;vertical-align:top}th a{color:inherit}
.state{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;background:#e3e6eb}
.state-deployed{background:#d3f2dc}.state-failed{background:#f8d4d4}.state-provisioning{background:#fdf0c4}
.state-maintenance{background:#dfe6fb}.state-retired{background:#ddd;color:#666}
.tag{background:#eef;border-radius:3px;padding:0 5px;margin-right:3px;font-size:12px}
section{background:#fff;border:1px solid #e3e6eb;border-radius:6px;padding:12px 16px;margin:12px 0}
h2{font-size:16px;margin:0 0 8px}.muted{color:#667}ol.timeline{padding-left:20px;margin:4px 0}
.error{color:#a11}form.inline{display:inline}pre{white-space:pre-wrap}`;

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${e(title)} · anemos registry</title><style>${STYLE}</style></head><body><header><a href="/">anemos registry</a></header><main>${body}</main></body></html>`;
}

const state = (s: MachineState) => `<span class="state state-${s}">${s}</span>`;
const when = (iso: string | null) => (iso ? `<time datetime="${e(iso)}">${e(iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC'))}</time>` : '<span class="muted">never</span>');

export function renderMessage(title: string, message: string): string {
  return page(title, `<h1>${e(title)}</h1><p>${e(message)}</p><p><a href="/">Machines</a></p>`);
}

export function renderLogin(problem?: string): string {
  return page(
    'Sign in',
    `<h1>Sign in</h1>${problem ? `<p class="error">${e(problem)}</p>` : ''}<form method="post" action="/login"><p><label>Token <input name="token" type="password" size="60" autofocus></label></p><p><button type="submit">Sign in</button></p></form><p class="muted">A reader or admin token: <code>anemos serve token create --role reader</code>.</p>`,
  );
}

export function renderMachineList(machines: MachineSummary[], f: {state?: string; tag?: string; q?: string; sort?: string}, counts: Record<MachineState, number>): string {
  const link = (over: Record<string, string | undefined>) => {
    const p = new URLSearchParams(Object.entries({...f, ...over}).filter((kv): kv is [string, string] => !!kv[1]));
    return `/?${p}`;
  };
  const th = (key: string, label: string) => `<th><a href="${e(link({sort: key}))}">${label}${(f.sort ?? 'hostname') === key ? ' ▾' : ''}</a></th>`;
  const rows = machines
    .map(
      (m) =>
        `<tr data-machine="${e(m.id)}"><td><a href="/machines/${encodeURIComponent(m.id)}">${e(m.hostname ?? m.id)}</a><div class="muted">${e(m.id)}</div></td><td>${state(m.state)}</td><td>${m.tags.map((t) => `<a class="tag" href="${e(link({tag: t}))}">${e(t)}</a>`).join('')}</td><td>${e(m.hardware ?? '')}</td><td>${e(m.macs.join(', '))}</td><td>${m.lastDeployment ? `${e(m.lastDeployment.outcome ?? 'running')} <span class="muted">${when(m.lastDeployment.startedAt)}</span>` : '<span class="muted">none</span>'}</td><td>${when(m.lastSeen)}</td></tr>`,
    )
    .join('');
  const summary = MACHINE_STATES.filter((s) => counts[s]).map((s) => `<a href="${e(link({state: s}))}">${state(s)} ${counts[s]}</a>`).join(' ');
  return page(
    'Machines',
    `<h1>Machines</h1><p>${summary || '<span class="muted">No machine has reported yet.</span>'}</p>
<form method="get" action="/"><input type="search" name="q" placeholder="hostname, serial, MAC, tag" value="${e(f.q ?? '')}">
<select name="state"><option value="">any state</option>${MACHINE_STATES.map((s) => `<option${f.state === s ? ' selected' : ''}>${s}</option>`).join('')}</select>
<input name="tag" placeholder="tag" value="${e(f.tag ?? '')}" size="10">${f.sort ? `<input type="hidden" name="sort" value="${e(f.sort)}">` : ''}<button type="submit">Filter</button> <a href="/">clear</a></form>
<table id="machines"><thead><tr>${th('hostname', 'Machine')}${th('state', 'State')}<th>Tags</th><th>Hardware</th><th>MACs</th><th>Last deployment</th>${th('seen', 'Last seen')}</tr></thead><tbody>${rows || '<tr><td colspan="7" class="muted">No machine matches.</td></tr>'}</tbody></table>
<p class="muted">${machines.length} machine(s).</p>`,
  );
}

function inventorySection(inv: HardwareInventory | null): string {
  if (!inv) return '<section><h2>Hardware</h2><p class="muted">No inventory reported yet.</p></section>';
  const s = inv.system;
  const row = (k: string, v: unknown) => (v === undefined || v === '' ? '' : `<tr><th>${k}</th><td>${e(v)}</td></tr>`);
  return `<section id="inventory"><h2>Hardware <span class="muted">(reported ${when(inv.gathered.at)} from the ${e(inv.gathered.where)})</span></h2><table>
${row('System', [s.vendor, s.product].filter(Boolean).join(' '))}${row('Serial', s.serial)}${row('UUID', s.uuid)}${row('Firmware', `${s.firmware.toUpperCase()}${s.secureBoot === undefined ? '' : `, Secure Boot ${s.secureBoot ? 'on' : 'off'}`}${s.biosVersion ? ` (${s.biosVendor ?? ''} ${s.biosVersion})` : ''}`)}
${row('CPU', `${inv.cpu.model ?? 'unknown'}: ${inv.cpu.sockets} socket(s), ${inv.cpu.cores} core(s), ${inv.cpu.threads} thread(s)`)}
${row('Memory', `${formatSize(inv.memory.totalBytes)}${inv.memory.dimms.length ? ` in ${inv.memory.dimms.map((d) => `${d.locator} ${formatSize(d.sizeBytes)}${d.type ? ` ${d.type}` : ''}`).join(', ')}` : ''}`)}
${inv.disks.map((d) => row(`Disk ${d.name}`, `${formatSize(d.sizeBytes)}${d.model ? ` ${d.model}` : ''}${d.serial ? `, serial ${d.serial}` : ''}${d.wwn ? `, WWN ${d.wwn}` : ''}${d.rotational ? ', rotational' : ''}${d.partitionTable ? `, ${d.partitionTable} partition table` : ''}`)).join('')}
${inv.nics.map((n) => row(`NIC ${n.name}`, `${n.mac}${n.driver ? ` ${n.driver}` : ''}${n.pciAddress ? ` at ${n.pciAddress}` : ''}, link ${n.link}${n.speedMbps ? ` ${n.speedMbps} Mb/s` : ''}`)).join('')}
${row('PCI devices', inv.pci.length)}${row('Kernel', inv.kernel.release)}</table></section>`;
}

function deploymentSection(deployments: Deployment[]): string {
  if (!deployments.length) return '<section id="deployments"><h2>Deployments</h2><p class="muted">None yet.</p></section>';
  return `<section id="deployments"><h2>Deployments</h2>${deployments
    .map(
      (d) => `<details${d === deployments[0] ? ' open' : ''} data-deployment="${e(d.id)}"><summary><b>${e(d.outcome ?? 'running')}</b> · ${e(d.mode)} · ${when(d.startedAt)}${d.durationSeconds !== null ? ` · ${d.durationSeconds} s` : ''}${d.who ? ` · by ${e(d.who)}` : ''} <span class="muted">${e(d.id)}</span></summary>
${d.artifacts.length ? `<p>${d.artifacts.map((a) => `${e(a.name)} <code>${e(a.sha256.slice(0, 16))}…</code>`).join(', ')}</p>` : ''}
<ol class="timeline">${d.events.map((ev) => `<li value="${e(ev.seq)}"${ev.level === 'error' ? ' class="error"' : ''}><span class="muted">${e(String(ev.t ?? '').replace(/^.*T|\.\d+Z$/g, ''))}</span> ${e(ev.msg)}</li>`).join('')}</ol></details>`,
    )
    .join('')}</section>`;
}

export function renderMachine(m: MachineRecord, deployments: Deployment[], history: {receivedAt: string; changes: string[]}[], audit: {at: string; actor: string; action: string; detail: unknown}[], o: {mayWrite: boolean}): string {
  const next = TRANSITIONS[m.state];
  const stateForm = o.mayWrite && next.length ? `<form class="inline" method="post" action="/machines/${encodeURIComponent(m.id)}/state"><select name="state">${next.map((s) => `<option>${s}</option>`).join('')}</select> <button type="submit">Change state…</button></form>` : '';
  const changes = history.filter((h) => h.changes.length);
  return page(
    m.hostname ?? m.id,
    `<h1>${e(m.hostname ?? m.id)} ${state(m.state)}</h1><p class="muted">${e(m.id)} · MACs ${e(m.macs.join(', ') || 'none')} · last seen ${when(m.lastSeen)} · ${m.tags.map((t) => `<span class="tag">${e(t)}</span>`).join('') || 'no tags'}</p>
<p>${stateForm}</p>
${inventorySection(m.inventory)}
<section id="changes"><h2>Hardware changes</h2>${changes.length ? `<ul>${changes.map((h) => `<li>${when(h.receivedAt)}: ${h.changes.map(e).join('; ')}</li>`).join('')}</ul>` : `<p class="muted">No change in ${history.length} report(s).</p>`}</section>
${deploymentSection(deployments)}
<section id="desired"><h2>Desired deployment</h2>${m.desired ? `<pre>${e(JSON.stringify(m.desired, null, 2))}</pre>` : '<p class="muted">None set (PATCH /api/v1/machines/{id} with "desired").</p>'}</section>
<section id="audit"><h2>Audit log</h2><table>${audit.map((a) => `<tr><td>${when(a.at)}</td><td>${e(a.actor)}</td><td>${e(a.action)}</td><td><code>${e(JSON.stringify(a.detail))}</code></td></tr>`).join('')}</table></section>`,
  );
}

export function renderConfirmState(m: MachineRecord, to: MachineState): string {
  return page(
    'Confirm',
    `<h1>Change ${e(m.hostname ?? m.id)} from ${state(m.state)} to ${state(to)}?</h1><p>The change is kept in the audit log under your token.</p>
<form method="post" action="/machines/${encodeURIComponent(m.id)}/state"><input type="hidden" name="state" value="${e(to)}"><input type="hidden" name="confirm" value="yes"><button type="submit" id="confirm">Yes, change it</button> <a href="/machines/${encodeURIComponent(m.id)}">Cancel</a></form>`,
  );
}
