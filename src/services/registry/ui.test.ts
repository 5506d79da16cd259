// Every page of the registry rendered with a hostile string in every field an agent or an
// API user can set: no markup of theirs gets through (the same payload is rendered in
// Chromium by test/integration/registry-ui.test.ts, where no script runs and no tag appears).

import {describe, expect, it} from 'vitest';
import {loadInventoryFixture} from '../../../test/helpers/inventory.js';
import type {HardwareInventory} from '../../core/inventory.js';
import type {AuditEntry, Deployment, MachineRecord, Page} from './registry.js';
import {renderAudit, renderConfirmState, renderDeployments, renderLogin, renderMachine, renderMachineList, renderMessage, type DeploymentWithEvents, type Viewer} from './ui.js';

const EVIL = `<script>alert(1)</script><img src=x onerror=alert(2)>"'><svg onload=alert(3)>&amp;`;
const {inventory: BASE} = loadInventoryFixture('cloud-vm-virtio');

const inventory: HardwareInventory = {
  ...structuredClone(BASE),
  system: {...BASE.system, vendor: EVIL, product: EVIL, serial: EVIL, biosVendor: EVIL, biosVersion: EVIL},
  cpu: {...BASE.cpu, model: EVIL},
  memory: {totalBytes: 1, dimms: [{locator: EVIL, sizeBytes: 1, type: EVIL}]},
  disks: [{name: EVIL, sizeBytes: 1, rotational: false, removable: false, model: EVIL, serial: EVIL, wwn: EVIL, byId: [EVIL]}],
  nics: [{name: EVIL, mac: '52:54:00:00:00:01', driver: EVIL, pciAddress: EVIL, link: 'up', addresses: [EVIL]}],
  kernel: {release: EVIL},
};

const machine: MachineRecord = {
  id: EVIL,
  uuid: EVIL,
  hostname: EVIL,
  state: 'deployed',
  tags: [EVIL],
  macs: [EVIL],
  addresses: [EVIL],
  lastSeen: '2026-12-06T10:00:00.000Z',
  updatedAt: '2026-12-06T10:00:00.000Z',
  hardware: EVIL,
  lastDeployment: {id: EVIL, outcome: EVIL, recordedAt: '2026-12-06T10:00:00.000Z'},
  attributes: {[EVIL]: EVIL},
  desired: {payload: {url: EVIL, sha256: EVIL}, config: {[EVIL]: EVIL}},
  inventory,
  createdAt: '2026-12-06T10:00:00.000Z',
  enrolled: true,
  discoveredAt: '2026-12-01T10:00:00.000Z',
  lastBoot: {at: '2026-12-01T10:00:00.000Z', mac: EVIL, client: EVIL, firmware: EVIL, boot: EVIL, rule: EVIL},
  sshHostKeys: [EVIL],
  drift: {at: '2026-12-01T10:00:00.000Z', deployment: EVIL, summary: {added: 1, changed: 1, removed: 1, bytes: 2}, entries: [{path: EVIL, kind: 'added', type: 'dir', size: 1, entries: 2}, {path: EVIL, kind: 'changed', type: 'file', size: 1}, {path: EVIL, kind: 'removed', type: 'other', size: 0}], left: 0},
};

const deployment: Deployment = {
  id: EVIL,
  machine: EVIL,
  mode: EVIL,
  who: EVIL,
  source: EVIL,
  artifacts: [{name: EVIL, url: EVIL, sha256: EVIL}],
  recordedAt: '2026-12-06T10:00:00.000Z',
  outcomeAt: null,
  machineClock: {startedAt: '2026-12-06T10:00:00.000Z', finishedAt: null},
  outcome: EVIL,
  durationSeconds: 1,
  events: 1,
};
const withEvents: DeploymentWithEvents = {...deployment, timeline: [{seq: 1, msg: EVIL, t: EVIL, level: EVIL, receivedAt: '2026-12-06T10:00:00.000Z'}]};
const audit: AuditEntry = {id: 1, at: '2026-12-06T10:00:00.000Z', actor: EVIL, machine: EVIL, action: EVIL, detail: {[EVIL]: EVIL}};
const viewer: Viewer = {label: EVIL, kind: 'admin', mayWrite: true};
const page = <T>(items: T[]): Page<T> => ({items, next: EVIL, total: 1});

const PAGES: Record<string, string> = {
  login: renderLogin(EVIL),
  message: renderMessage(EVIL, EVIL, viewer),
  list: renderMachineList(viewer, page([machine]), {state: EVIL, tag: EVIL, q: EVIL, sort: EVIL, cursor: EVIL}, {new: 1, ready: 0, provisioning: 0, deployed: 1, failed: 0, maintenance: 0, retired: 0}),
  machine: renderMachine(viewer, machine, [withEvents], true, deployment, [{receivedAt: '2026-12-06T10:00:00.000Z', changes: [EVIL]}], [audit], {desiredText: EVIL, desiredProblems: [EVIL], attributesText: EVIL, attributesProblems: [EVIL]}),
  installer: renderMachine(viewer, machine, [], false, undefined, [], [], {installer: {media: EVIL, distribution: EVIL, release: EVIL, arch: EVIL, kind: 'preseed', answer: EVIL}}),
  'installer refused': renderMachine(viewer, machine, [], false, undefined, [], [], {installer: {problem: EVIL}}),
  confirm: renderConfirmState(viewer, machine, 'maintenance'),
  deployments: renderDeployments(viewer, page([deployment]), {machine: EVIL, outcome: EVIL, mode: EVIL, cursor: EVIL}),
  audit: renderAudit(viewer, page([audit]), {machine: EVIL, action: EVIL, actor: EVIL, cursor: EVIL}, [EVIL]),
};

describe('registry pages with hostile strings in every field', () => {
  it.each(Object.keys(PAGES))('%s: no tag, attribute or entity of theirs gets through', (name) => {
    const html = PAGES[name]!;
    expect(html).not.toMatch(/<script|<img|<svg|onerror=alert\(2\)>|"'>/i);
    // Each one is there, as text.
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;&quot;&#39;&gt;&lt;svg onload=alert(3)&gt;&amp;amp;');
    // Our own markup has no script either, and no tag has an inline handler or style (the CSP allows neither).
    // (Attribute values are text: what is inside their quotes is left out of the check.)
    const tags = (html.match(/<[a-zA-Z][^>]*>/g) ?? []).map((t) => t.replace(/"[^"]*"/g, '""'));
    expect(tags.filter((t) => /\son[a-z]+=|\sstyle=/i.test(t))).toEqual([]);
    expect(tags.map((t) => t.match(/^<([a-zA-Z]+)/)![1]!.toLowerCase()).filter((t) => ['script', 'img', 'svg', 'iframe', 'object', 'embed'].includes(t))).toEqual([]);
  });
});
