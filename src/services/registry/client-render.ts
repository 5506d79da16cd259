// What the registry's CLI client prints: tables and records as text. Every value came from
// the registry, and much of it from machines (hostnames, tags, notes, event messages), so
// each one goes through terminalLine before it reaches the operator's terminal. Pure.

import {DRIFT_MARK, driftPath, driftSize, driftTotals} from '../../core/live/drift.js';
import {formatSize} from '../../core/inventory.js';
import type {ReportEvent} from '../../core/registry/lifecycle.js';
import {terminalLine} from '../../shared/terminal-text.js';
import type {Deployment, MachineRecord, MachineSummary, TokenInfo} from './registry.js';

const cell = (v: unknown, max = 48) => terminalLine(v === null || v === undefined || v === '' ? '-' : String(v), max);
const time = (iso: string | null) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-');

/** Columns padded to their widest cell; the last one is not padded. */
export function renderTable(header: string[], rows: unknown[][]): string[] {
  const cells = [header, ...rows.map((r) => r.map((v) => cell(v)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => [...(r[i] ?? '')].length)));
  return cells.map((r) => r.map((v, i) => (i === r.length - 1 ? v : v.padEnd(widths[i]!))).join('  ').trimEnd());
}

export function renderMachines(machines: MachineSummary[], total: number, next: string | null): string[] {
  if (!machines.length) return ['No machine matches.'];
  const rows = machines.map((m) => [m.id, m.hostname, m.state, m.addresses.join(',') || '-', m.tags.join(',') || '-', m.lastDeployment ? `${m.lastDeployment.outcome ?? 'running'} ${time(m.lastDeployment.recordedAt)}` : '-', time(m.lastSeen)]);
  return [...renderTable(['ID', 'HOSTNAME', 'STATE', 'ADDRESSES', 'TAGS', 'LAST DEPLOYMENT', 'LAST SEEN'], rows), `${machines.length} of ${total} machine(s)${next ? '; --all for every page' : ''}.`];
}

export function renderMachine(m: MachineRecord, deployments: Deployment[]): string[] {
  const inv = m.inventory;
  const lines = [
    `${cell(m.hostname ?? m.id, 200)} (${m.state})`,
    `  id          ${cell(m.id, 200)}`,
    `  uuid        ${cell(m.uuid)}`,
    `  macs        ${cell(m.macs.join(', '), 400)}`,
    `  addresses   ${cell(m.addresses.join(', '), 400)}`,
    `  tags        ${cell(m.tags.join(', '), 400)}`,
    `  enrolled    ${m.enrolled ? 'yes' : 'no'}`,
    `  last seen   ${time(m.lastSeen)} (registry clock)`,
    `  hardware    ${cell(m.hardware, 200)}`,
  ];
  if (inv) {
    for (const d of inv.disks) lines.push(`  disk        ${cell(`${d.name} ${formatSize(d.sizeBytes)}${d.model ? ` ${d.model}` : ''}${d.serial ? ` serial ${d.serial}` : ''}`, 200)}`);
    for (const n of inv.nics) lines.push(`  nic         ${cell(`${n.name} ${n.mac}${n.driver ? ` ${n.driver}` : ''} link ${n.link}${n.addresses?.length ? ` ${n.addresses.join(', ')}` : ''}`, 200)}`);
  }
  const attrs = Object.entries(m.attributes);
  if (attrs.length) lines.push('  attributes', ...attrs.map(([k, v]) => `    ${cell(k, 64)} = ${cell(JSON.stringify(v), 200)}`));
  lines.push(m.desired ? `  desired     ${(['kernel', 'initramfs', 'payload'] as const).filter((k) => m.desired![k]).map((k) => `${k} ${cell(m.desired![k]!.url, 200)} (${m.desired![k]!.sha256.slice(0, 12)}…)`).join('; ')}${m.desired.config ? `; overrides ${Object.keys(m.desired.config).join(', ')}` : ''}` : '  desired     none');
  for (const k of m.sshHostKeys) lines.push(`  ssh key     ${cell(k, 200)}`);
  if (m.drift) {
    lines.push(`  drift       reported ${time(m.drift.at)}: ${driftTotals(m.drift.summary)}`);
    for (const e of m.drift.entries) lines.push(`    ${DRIFT_MARK[e.kind]} ${cell(driftPath(e), 400)}${e.kind === 'removed' ? '' : `  ${driftSize(e)}`}`);
    if (m.drift.left) lines.push(`    and ${m.drift.left} more`);
  }
  if (deployments.length) {
    lines.push('  deployments (newest first)');
    for (const d of deployments) lines.push(`    ${cell(d.id, 80)}  ${d.outcome ?? 'running'}  ${d.mode}  recorded ${time(d.recordedAt)}${d.durationSeconds !== null ? `  ${d.durationSeconds} s` : ''}${d.who ? `  by ${cell(d.who, 80)}` : ''}`);
  }
  return lines;
}

export function renderTokens(tokens: TokenInfo[]): string[] {
  if (!tokens.length) return ['No token.'];
  const state = (t: TokenInfo) => (t.revokedAt ? `revoked ${time(t.revokedAt)}` : t.expiresAt && Date.parse(t.expiresAt) < Date.now() ? 'expired' : t.usesLeft === 0 ? 'used up' : 'live');
  return renderTable(
    ['ID', 'KIND', 'NOTE', 'BOUND TO', 'CREATED', 'EXPIRES', 'USES LEFT', 'STATE'],
    tokens.map((t) => [t.id, t.kind, t.note, t.deployment ?? t.machine, time(t.createdAt), time(t.expiresAt), t.usesLeft ?? '-', state(t)]),
  );
}

/** One event of a followed deployment, as anemos deploy --host prints them: the machine's time, the level, the message. */
export function renderEvent(e: ReportEvent): string {
  const t = typeof e.t === 'string' ? e.t.slice(11, 19) : '--:--:--';
  return `  ${t} ${e.level && e.level !== 'info' ? `${String(e.level).toUpperCase()}: ` : ''}${terminalLine(e.msg)}`;
}
