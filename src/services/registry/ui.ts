// The registry's web pages, rendered on the server as plain HTML (no script, no build
// step): the machine list, a machine's page (inventory, changes, attributes and desired
// deployment with their forms, desired against deployed, deployments with their events,
// audit log), the fleet's deployments and audit log, and the two-step state change.
// Pure: data in, HTML out; every value goes through html``, which escapes it.

import {stringify} from 'yaml';
import {formatSize, type HardwareInventory} from '../../core/inventory.js';
import {MACHINE_STATES, TRANSITIONS, type MachineState, type TokenKind} from '../../core/registry/lifecycle.js';
import {html, type SafeHtml} from './html.js';
import type {AuditEntry, Deployment, MachineDrift, MachineRecord, MachineSummary, Page} from './registry.js';
import {DRIFT_MARK, driftPath, driftSize, driftTotals, NO_DRIFT} from '../../core/live/drift.js';
import type {InstallerExplained} from './api.js';

export const STYLESHEET = `body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:10px 24px;display:flex;gap:18px;align-items:center}header a{color:#fff;text-decoration:none}
header .brand{font-weight:600}header .who{margin-left:auto;color:#c9cfda}header form{display:inline}header button{margin-left:8px}
main{padding:16px 24px;max-width:1280px}table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #e3e6eb;vertical-align:top}th a{color:inherit}
.state{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;background:#e3e6eb}
.state-deployed{background:#d3f2dc}.state-failed{background:#f8d4d4}.state-provisioning{background:#fdf0c4}
.state-maintenance{background:#dfe6fb}.state-retired{background:#ddd;color:#666}
.tag{background:#eef;border-radius:3px;padding:0 5px;margin-right:3px;font-size:12px}
section{background:#fff;border:1px solid #e3e6eb;border-radius:6px;padding:12px 16px;margin:12px 0}
h2{font-size:16px;margin:0 0 8px}.muted,.clock{color:#667}.clock{font-size:12px}ol.timeline{padding-left:20px;margin:4px 0}
.error{color:#a11}.ok{color:#176a2c}form.inline{display:inline}pre{white-space:pre-wrap}textarea{width:100%;font:13px/1.4 ui-monospace,monospace}
.pager{margin:10px 0}.problems li{color:#a11}code{font-size:12px}`;

/** Who is signed in, as the header shows it, and what the pages may offer them. */
export interface Viewer {
  label: string;
  kind: TokenKind;
  mayWrite: boolean;
}

function page(title: string, body: SafeHtml, viewer?: Viewer): string {
  const nav = viewer
    ? html`<a href="/">Machines</a><a href="/deployments">Deployments</a><a href="/audit">Audit log</a><span class="who">Signed in as <b id="signed-in">${viewer.label}</b> (${viewer.kind})<form method="post" action="/logout"><button type="submit" id="sign-out">Sign out</button></form></span>`
    : html``;
  return String(
    html`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title} · anemos registry</title><link rel="stylesheet" href="/static/registry.css"></head><body><header><a class="brand" href="/">anemos registry</a>${nav}</header><main>${body}</main></body></html>`,
  );
}

const state = (s: MachineState) => html`<span class="state state-${s}">${s}</span>`;

/** A time, and whose clock it is: the registry's (when it received or recorded) or the machine's (its events' own stamps). */
export function when(iso: string | null, clock: 'registry' | 'machine' = 'registry'): SafeHtml {
  if (!iso) return html`<span class="muted">never</span>`;
  return html`<time datetime="${iso}">${iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}</time> <span class="clock">(${clock === 'registry' ? 'registry clock' : "machine's clock"})</span>`;
}

function pager(p: {next: string | null; total?: number}, shown: number, link: (cursor?: string) => string, first: boolean, noun: string): SafeHtml {
  return html`<p class="pager"><span class="muted" id="total">${p.total !== undefined ? `${p.total} ${noun}${p.total === 1 ? '' : 's'}` : ''}${p.total !== undefined ? ', ' : ''}${shown} on this page.</span> ${first ? '' : html`<a href="${link()}">First page</a>`} ${p.next ? html`<a id="next-page" href="${link(p.next)}">Next page →</a>` : ''}</p>`;
}

const query = (params: Record<string, string | undefined>) => {
  const p = new URLSearchParams(Object.entries(params).filter((kv): kv is [string, string] => Boolean(kv[1])));
  const s = p.toString();
  return s ? `?${s}` : '';
};

export function renderMessage(title: string, message: string, viewer?: Viewer): string {
  return page(title, html`<h1>${title}</h1><p>${message}</p><p><a href="/">Machines</a></p>`, viewer);
}

export function renderLogin(problem?: string): string {
  return page(
    'Sign in',
    html`<h1>Sign in</h1>${problem ? html`<p class="error">${problem}</p>` : ''}<form method="post" action="/login"><p><label>Token <input name="token" type="password" size="60" autocomplete="off" autofocus></label></p><p><button type="submit">Sign in</button></p></form><p class="muted">A reader, operator or admin token: <code>anemos tokens create --role reader</code>.</p>`,
  );
}

export interface MachineListQuery {
  state?: string;
  tag?: string;
  q?: string;
  sort?: string;
  cursor?: string;
}

export function renderMachineList(viewer: Viewer, machines: Page<MachineSummary>, f: MachineListQuery, counts: Record<MachineState, number>): string {
  const link = (over: Record<string, string | undefined>) => `/${query({state: f.state, tag: f.tag, q: f.q, sort: f.sort, ...over})}`;
  const th = (key: string, label: string) => html`<th><a href="${link({sort: key, cursor: undefined})}">${label}${(f.sort ?? 'hostname') === key ? ' ▾' : ''}</a></th>`;
  const rows = machines.items.map(
    (m) =>
      html`<tr data-machine="${m.id}"><td><a href="/machines/${encodeURIComponent(m.id)}">${m.hostname ?? m.id}</a><div class="muted">${m.id}</div></td><td>${state(m.state)}</td><td>${m.tags.map((t) => html`<a class="tag" href="${link({tag: t, cursor: undefined})}">${t}</a>`)}</td><td class="addresses">${m.addresses.join(', ')}</td><td>${m.hardware ?? ''}</td><td>${m.macs.join(', ')}</td><td>${m.lastDeployment ? html`${m.lastDeployment.outcome ?? 'running'} <span class="muted">${when(m.lastDeployment.recordedAt)}</span>` : html`<span class="muted">none</span>`}</td><td>${when(m.lastSeen)}</td></tr>`,
  );
  const summary = MACHINE_STATES.filter((s) => counts[s]).map((s) => html`<a href="${link({state: s, cursor: undefined})}">${state(s)} ${counts[s]}</a> `);
  return page(
    'Machines',
    html`<h1>Machines</h1><p>${summary.length ? summary : html`<span class="muted">No machine has reported yet.</span>`}</p>
<form method="get" action="/"><input type="search" name="q" placeholder="hostname, serial, MAC, address, tag" value="${f.q ?? ''}">
<select name="state"><option value="">any state</option>${MACHINE_STATES.map((s) => html`<option${f.state === s ? html` selected` : ''}>${s}</option>`)}</select>
<input name="tag" placeholder="tag" value="${f.tag ?? ''}" size="10">${f.sort ? html`<input type="hidden" name="sort" value="${f.sort}">` : ''}<button type="submit" class="filter">Filter</button> <a href="/">clear</a></form>
<table id="machines"><thead><tr>${th('hostname', 'Machine')}${th('state', 'State')}<th>Tags</th><th>Addresses</th><th>Hardware</th><th>MACs</th><th>Last deployment</th>${th('seen', 'Last seen')}</tr></thead><tbody>${rows.length ? rows : html`<tr><td colspan="8" class="muted">No machine matches.</td></tr>`}</tbody></table>
${pager(machines, machines.items.length, (cursor) => link({cursor}), !f.cursor, 'machine')}`,
    viewer,
  );
}

/** A live machine's drift, as it last reported it: what differs from the image it booted (gone at its next reboot). */
function driftSection(d: MachineDrift) {
  return html`<section id="drift"><h2>Drift <span class="muted">(reported ${when(d.at)}${d.deployment ? ` from boot ${d.deployment}` : ''})</span></h2>${
    d.entries.length
      ? html`<p>${driftTotals(d.summary)}</p><table>${d.entries.map((e) => html`<tr class="drift-${e.kind}"><td>${DRIFT_MARK[e.kind]}</td><td><code>${driftPath(e)}</code></td><td>${driftSize(e)}</td></tr>`)}</table>${d.left ? html`<p class="muted">And ${d.left} more, not kept.</p>` : ''}`
      : html`<p class="muted">${NO_DRIFT}</p>`
  }</section>`;
}

function inventorySection(inv: HardwareInventory | null): SafeHtml {
  if (!inv) return html`<section id="inventory"><h2>Hardware</h2><p class="muted">No inventory reported yet.</p></section>`;
  const s = inv.system;
  const row = (k: string, v: unknown) => (v === undefined || v === '' ? '' : html`<tr><th>${k}</th><td>${v}</td></tr>`);
  return html`<section id="inventory"><h2>Hardware <span class="muted">(gathered ${when(inv.gathered.at, 'machine')} in the ${inv.gathered.where})</span></h2><table>
${row('System', [s.vendor, s.product].filter(Boolean).join(' '))}${row('Serial', s.serial)}${row('UUID', s.uuid)}${row('Firmware', `${s.firmware.toUpperCase()}${s.secureBoot === undefined ? '' : `, Secure Boot ${s.secureBoot ? 'on' : 'off'}`}${s.biosVersion ? ` (${s.biosVendor ?? ''} ${s.biosVersion})` : ''}`)}
${row('CPU', `${inv.cpu.model ?? 'unknown'}: ${inv.cpu.sockets} socket(s), ${inv.cpu.cores} core(s), ${inv.cpu.threads} thread(s)`)}
${row('Memory', `${formatSize(inv.memory.totalBytes)}${inv.memory.dimms.length ? ` in ${inv.memory.dimms.map((d) => `${d.locator} ${formatSize(d.sizeBytes)}${d.type ? ` ${d.type}` : ''}`).join(', ')}` : ''}`)}
${inv.disks.map((d) => row(`Disk ${d.name}`, `${formatSize(d.sizeBytes)}${d.model ? ` ${d.model}` : ''}${d.serial ? `, serial ${d.serial}` : ''}${d.wwn ? `, WWN ${d.wwn}` : ''}${d.rotational ? ', rotational' : ''}${d.partitionTable ? `, ${d.partitionTable} partition table` : ''}`))}
${inv.nics.map((n) => row(`NIC ${n.name}`, `${n.mac}${n.driver ? ` ${n.driver}` : ''}${n.pciAddress ? ` at ${n.pciAddress}` : ''}, link ${n.link}${n.speedMbps ? ` ${n.speedMbps} Mb/s` : ''}${n.addresses?.length ? `, ${n.addresses.join(', ')}` : ''}`))}
${row('PCI devices', inv.pci.length)}${row('Kernel', inv.kernel.release)}</table></section>`;
}

export interface DeploymentWithEvents extends Deployment {
  timeline: {seq: number; msg: string; t?: string; level?: string; receivedAt: string}[];
}

function deploymentSummary(d: Deployment): SafeHtml {
  const ran = d.machineClock.startedAt ? html` · ran ${when(d.machineClock.startedAt, 'machine')}` : '';
  return html`<b>${d.outcome ?? 'running'}</b> · ${d.mode} · recorded ${when(d.recordedAt)}${ran}${d.durationSeconds !== null ? ` · ${d.durationSeconds} s` : ''}${d.who ? ` · by ${d.who}` : ''} <span class="muted">${d.id}</span>`;
}

function deploymentSection(deployments: DeploymentWithEvents[], more: boolean, machineId: string): SafeHtml {
  if (!deployments.length) return html`<section id="deployments"><h2>Deployments</h2><p class="muted">None yet.</p></section>`;
  return html`<section id="deployments"><h2>Deployments</h2>${deployments.map(
    (d, i) => html`<details${i === 0 ? html` open` : ''} data-deployment="${d.id}"><summary>${deploymentSummary(d)}</summary>
${d.artifacts.length ? html`<p>${d.artifacts.map((a, j) => html`${j ? ', ' : ''}${a.name} <code>${a.sha256.slice(0, 16)}…</code>`)}</p>` : ''}
<p class="clock">Times below: the machine's clock, from its events.</p>
<ol class="timeline">${d.timeline.map((ev) => html`<li value="${ev.seq}"${ev.level === 'error' ? html` class="error"` : ''}><span class="muted">${String(ev.t ?? '').replace(/^.*T|\.\d+Z$/g, '')}</span> ${ev.msg}</li>`)}</ol></details>`,
  )}${more ? html`<p><a href="/deployments${query({machine: machineId})}">All deployments of this machine</a></p>` : ''}</section>`;
}

/** Desired against what the last successful deployment ran, artifact by artifact (by sha256). */
export function desiredVsDeployed(m: MachineRecord, lastGood: Deployment | undefined): {name: string; desired: string | null; deployed: string | null; same: boolean}[] {
  return (['kernel', 'initramfs', 'payload'] as const).map((name) => {
    const desired = m.desired?.[name]?.sha256 ?? null;
    const deployed = lastGood?.artifacts.find((a) => a.name === name)?.sha256 ?? null;
    return {name, desired, deployed, same: desired !== null && desired === deployed};
  });
}

export interface MachineForms {
  /** An installer deployment: what the boot service renders for it now. */
  installer?: InstallerExplained | {problem: string} | {pending: string};
  desiredText?: string;
  desiredProblems?: string[];
  attributesText?: string;
  attributesProblems?: string[];
}

/** The installer's media and the answer file the machine gets now; or why it gets none. */
function installerPart(i: MachineForms['installer']) {
  if (!i) return '';
  if ('problem' in i) return html`<div id="installer"><h3>Installer</h3><p class="error">Not booted: ${i.problem}.</p></div>`;
  if ('pending' in i) return html`<div id="installer"><h3>Installer</h3><p class="muted">Not yet: ${i.pending}.</p></div>`;
  return html`<div id="installer"><h3>Installer</h3><p>${i.media}: ${i.distribution} ${i.release} ${i.arch}, ${i.kind}. The answer file it gets now (its report command carries this boot's own deployment and token when it asks):</p><pre id="answer-file">${i.answer}</pre></div>`;
}

export function desiredAsYaml(m: MachineRecord): string {
  return m.desired ? stringify(m.desired) : '';
}

export function renderMachine(viewer: Viewer, m: MachineRecord, deployments: DeploymentWithEvents[], moreDeployments: boolean, lastGood: Deployment | undefined, history: {receivedAt: string; changes: string[]}[], audit: AuditEntry[], forms: MachineForms = {}): string {
  const next = TRANSITIONS[m.state];
  const path = `/machines/${encodeURIComponent(m.id)}`;
  const stateForm = viewer.mayWrite && next.length ? html`<form class="inline" method="post" action="${path}/state"><select name="state">${next.map((s) => html`<option>${s}</option>`)}</select> <button type="submit">Change state…</button></form>` : '';
  const changes = history.filter((h) => h.changes.length);
  const diff = desiredVsDeployed(m, lastGood);
  const problems = (list?: string[]) => (list?.length ? html`<ul class="problems">${list.map((p) => html`<li>${p}</li>`)}</ul>` : '');
  const attributes = Object.entries(m.attributes);
  return page(
    m.hostname ?? m.id,
    html`<h1>${m.hostname ?? m.id} ${state(m.state)}</h1><p class="muted">${m.id}${m.uuid && m.uuid !== m.id ? ` · UUID ${m.uuid}` : ''} · MACs ${m.macs.join(', ') || 'none'} · addresses <span id="addresses">${m.addresses.join(', ') || 'none reported'}</span> · last seen ${when(m.lastSeen)} · ${m.enrolled ? 'enrolled' : 'not enrolled'} · ${m.tags.length ? m.tags.map((t) => html`<span class="tag">${t}</span>`) : 'no tags'}</p>
<p>${stateForm}</p>
<p id="network-boot" class="muted">${m.discoveredAt ? html`Found by a network boot ${when(m.discoveredAt)}. ` : ''}${m.lastBoot ? html`Last network boot ${when(m.lastBoot.at)}: ${m.lastBoot.client} (${m.lastBoot.firmware}) with ${m.lastBoot.mac}, given ${m.lastBoot.boot}: ${m.lastBoot.rule}.` : 'No network boot seen.'}</p>
${m.sshHostKeys.length ? html`<p id="ssh-host-keys">SSH host keys (kept by the registry, carried by its network live boots; for known_hosts):<br>${m.sshHostKeys.map((k) => html`<code>${k}</code><br>`)}</p>` : ''}
${m.drift ? driftSection(m.drift) : ''}${inventorySection(m.inventory)}
<section id="changes"><h2>Hardware changes</h2>${changes.length ? html`<ul>${changes.map((h) => html`<li>${when(h.receivedAt)}: ${h.changes.join('; ')}</li>`)}</ul>` : html`<p class="muted">No change in ${history.length} report(s).</p>`}</section>
<section id="attributes"><h2>Attributes</h2>${attributes.length ? html`<table>${attributes.map(([k, v]) => html`<tr><th>${k}</th><td><code>${JSON.stringify(v)}</code></td></tr>`)}</table>` : html`<p class="muted">None.</p>`}
${viewer.mayWrite ? html`<form method="post" action="${path}/attributes"><details${forms.attributesProblems ? html` open` : ''}><summary>Edit attributes (JSON)</summary>${problems(forms.attributesProblems)}<textarea name="attributes" rows="6">${forms.attributesText ?? JSON.stringify(m.attributes, null, 2)}</textarea><p><button type="submit" id="save-attributes">Save attributes</button></p></details></form>` : ''}</section>
<section id="desired"><h2>Desired deployment</h2>${m.desired ? html`<pre>${desiredAsYaml(m)}</pre>` : html`<p class="muted">None set.</p>`}
${installerPart(forms.installer)}
<table id="desired-vs-deployed"><thead><tr><th>Artifact</th><th>Desired</th><th>Last successful deployment${lastGood ? html` (${lastGood.id})` : ''}</th><th></th></tr></thead><tbody>${diff.map(
      (r) =>
        html`<tr data-artifact="${r.name}"><td>${r.name}</td><td><code>${r.desired ? `${r.desired.slice(0, 16)}…` : '—'}</code></td><td><code>${r.deployed ? `${r.deployed.slice(0, 16)}…` : '—'}</code></td><td class="${r.same ? 'ok' : 'error'}">${r.same ? 'deployed' : r.desired ? (r.deployed ? 'differs: not deployed yet' : 'not deployed yet') : r.deployed ? 'deployed, not desired' : ''}</td></tr>`,
    )}</tbody></table>
${viewer.mayWrite ? html`<form method="post" action="${path}/desired"><details${forms.desiredProblems ? html` open` : ''}><summary>Edit the desired deployment (YAML, the keys of anemos.conf)</summary>${problems(forms.desiredProblems)}<textarea name="desired" rows="12" placeholder="kernel: {url: https://…, sha256: …}">${forms.desiredText ?? desiredAsYaml(m)}</textarea><p><button type="submit" id="save-desired">Save desired deployment</button> <span class="muted">Validated like anemos.conf; an empty text removes it.</span></p></details></form>` : ''}</section>
${deploymentSection(deployments, moreDeployments, m.id)}
<section id="audit"><h2>Audit log</h2><table>${audit.map((a) => html`<tr><td>${when(a.at)}</td><td>${a.actor}</td><td>${a.action}</td><td><code>${JSON.stringify(a.detail)}</code></td></tr>`)}</table><p><a href="/audit${query({machine: m.id})}">The whole audit log of this machine</a></p></section>`,
    viewer,
  );
}

export function renderConfirmState(viewer: Viewer, m: MachineRecord, to: MachineState): string {
  const path = `/machines/${encodeURIComponent(m.id)}`;
  return page(
    'Confirm',
    html`<h1>Change ${m.hostname ?? m.id} from ${state(m.state)} to ${state(to)}?</h1><p>The change is kept in the audit log under your token's name.</p>
<form method="post" action="${path}/state"><input type="hidden" name="state" value="${to}"><input type="hidden" name="confirm" value="yes"><button type="submit" id="confirm">Yes, change it</button> <a href="${path}">Cancel</a></form>`,
    viewer,
  );
}

export interface DeploymentListQuery {
  machine?: string;
  outcome?: string;
  mode?: string;
  cursor?: string;
}

export function renderDeployments(viewer: Viewer, deployments: Page<Deployment>, f: DeploymentListQuery): string {
  const link = (over: Record<string, string | undefined>) => `/deployments${query({machine: f.machine, outcome: f.outcome, mode: f.mode, ...over})}`;
  const option = (v: string, current?: string) => html`<option${current === v ? html` selected` : ''}>${v}</option>`;
  return page(
    'Deployments',
    html`<h1>Deployments</h1><form method="get" action="/deployments"><input name="machine" placeholder="machine id, UUID or MAC" value="${f.machine ?? ''}">
<select name="outcome"><option value="">any outcome</option>${['succeeded', 'failed', 'aborted', 'running'].map((o) => option(o, f.outcome))}</select>
<select name="mode"><option value="">deploy and test</option>${['deploy', 'test'].map((o) => option(o, f.mode))}</select><button type="submit" class="filter">Filter</button> <a href="/deployments">clear</a></form>
<table id="deployment-list"><thead><tr><th>Machine</th><th>Outcome</th><th>Mode</th><th>Recorded</th><th>Ran</th><th>Duration</th><th>By</th><th>Events</th></tr></thead><tbody>${
      deployments.items.length
        ? deployments.items.map(
            (d) =>
              html`<tr data-deployment="${d.id}"><td><a href="/machines/${encodeURIComponent(d.machine)}">${d.machine}</a><div class="muted">${d.id}</div></td><td>${d.outcome ?? 'running'}</td><td>${d.mode}</td><td>${when(d.recordedAt)}</td><td>${d.machineClock.startedAt ? when(d.machineClock.startedAt, 'machine') : ''}</td><td>${d.durationSeconds !== null ? `${d.durationSeconds} s` : ''}</td><td>${d.who ?? ''}</td><td>${d.events}</td></tr>`,
          )
        : html`<tr><td colspan="8" class="muted">No deployment matches.</td></tr>`
    }</tbody></table>
${pager(deployments, deployments.items.length, (cursor) => link({cursor}), !f.cursor, 'deployment')}`,
    viewer,
  );
}

export interface AuditQuery {
  machine?: string;
  action?: string;
  actor?: string;
  cursor?: string;
}

export function renderAudit(viewer: Viewer, entries: Page<AuditEntry>, f: AuditQuery, actions: string[]): string {
  const link = (over: Record<string, string | undefined>) => `/audit${query({machine: f.machine, action: f.action, actor: f.actor, ...over})}`;
  return page(
    'Audit log',
    html`<h1>Audit log</h1><form method="get" action="/audit"><input name="machine" placeholder="machine" value="${f.machine ?? ''}">
<select name="action"><option value="">any action</option>${actions.map((a) => html`<option${f.action === a ? html` selected` : ''}>${a}</option>`)}</select>
<input name="actor" placeholder="actor (a token's note)" value="${f.actor ?? ''}"><button type="submit" class="filter">Filter</button> <a href="/audit">clear</a></form>
<table id="audit-list"><thead><tr><th>When</th><th>Actor</th><th>Machine</th><th>Action</th><th>Detail</th></tr></thead><tbody>${
      entries.items.length
        ? entries.items.map((a) => html`<tr><td>${when(a.at)}</td><td>${a.actor}</td><td>${a.machine ? html`<a href="/machines/${encodeURIComponent(a.machine)}">${a.machine}</a>` : ''}</td><td>${a.action}</td><td><code>${JSON.stringify(a.detail)}</code></td></tr>`)
        : html`<tr><td colspan="5" class="muted">Nothing matches.</td></tr>`
    }</tbody></table>
${pager(entries, entries.items.length, (cursor) => link({cursor}), !f.cursor, 'entry')}`,
    viewer,
  );
}
