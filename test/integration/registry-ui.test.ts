// The registry's web UI in a real headless Chromium (Debian's): sign in, find machines by
// text, state and tag, sort, open a machine's page (hardware, changes, deployments with
// their events, audit log), change its state through the confirmation. Screenshots are
// kept in .cache/test-screenshots/.

import type {AddressInfo} from 'node:net';
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import type {Browser, Page} from 'playwright-core';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {openEmbedded} from '../../src/adapters/db.js';
import type {HardwareInventory} from '../../src/core/inventory.js';
import {Registry} from '../../src/services/registry/registry.js';
import {createRegistryServer} from '../../src/services/registry/server.js';
import {launchChromium, screenshot, signIn} from '../helpers/browser.js';
import {loadInventoryFixture} from '../helpers/inventory.js';

const {inventory: INVENTORY} = loadInventoryFixture('cloud-vm-virtio');
const uuid = (n: number) => `00000000-0000-4000-8000-00000000000${n}`;

describe('registry web UI in Chromium', () => {
  let browser: Browser;
  let page: Page;
  let url: string;
  let close: () => Promise<void>;
  const tokens = {admin: '', reader: ''};

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'anemos-ui-'));
    const registry = await Registry.open(await openEmbedded(dir));
    tokens.admin = (await registry.createToken('admin')).token;
    tokens.reader = (await registry.createToken('reader')).token;
    // Three machines as agents report them: one deployed, one whose deploy failed, one new.
    const inv = (serial: string, mac: string): HardwareInventory => ({...INVENTORY, system: {...INVENTORY.system, vendor: 'Dell Inc.', product: 'PowerEdge R650', serial}, nics: [{name: 'eno1', mac, driver: 'bnxt_en', link: 'up', speedMbps: 25000}]});
    await registry.report({machine: {uuid: uuid(1), macs: ['52:54:00:00:00:01'], hostname: 'web1'}, inventory: inv('SRV0001', '52:54:00:00:00:01'), deployment: {id: 'dep-20261206T090000Z-aaaa0001', mode: 'deploy', who: 'ci'}, events: [{seq: 1, t: '2026-12-06T09:00:01.000Z', level: 'info', msg: 'agent started (mode deploy)'}, {seq: 2, t: '2026-12-06T09:00:05.000Z', level: 'info', msg: 'network up and checked'}, {seq: 3, t: '2026-12-06T09:02:00.000Z', level: 'info', msg: 'DEPLOY SUCCEEDED in 119 s', outcome: 'succeeded'}]}, 'token:test');
    const grown = inv('SRV0001', '52:54:00:00:00:01');
    grown.memory = {...grown.memory, totalBytes: grown.memory.totalBytes * 2};
    await registry.report({machine: {uuid: uuid(1), macs: ['52:54:00:00:00:01']}, inventory: grown}, 'token:test');
    await registry.report({machine: {uuid: uuid(2), macs: ['52:54:00:00:00:02'], hostname: 'db1'}, inventory: inv('SRV0002', '52:54:00:00:00:02'), deployment: {id: 'dep-20261206T091500Z-aaaa0002', mode: 'deploy'}, events: [{seq: 1, level: 'error', msg: 'DEPLOY FAILED: ./deploy exited with code 3', outcome: 'failed'}]}, 'token:test');
    await registry.report({machine: {uuid: uuid(3), macs: ['52:54:00:00:00:03'], hostname: 'spare1'}}, 'token:test');
    await registry.patchMachine(uuid(2), {tags: ['rack3']}, 'token:test');
    const server = createRegistryServer(registry, {version: 'test'});
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchChromium();
    page = await browser.newPage({viewport: {width: 1280, height: 800}});
    close = async () => {
      await browser.close();
      await new Promise((r) => server.close(r));
      await registry.db.close();
      rmSync(dir, {recursive: true, force: true});
    };
  }, 120_000);
  afterAll(async () => close?.());

  const rows = async () => page.locator('#machines tbody tr[data-machine]').evaluateAll((trs) => trs.map((tr) => tr.querySelector('td a')!.textContent));

  it('asks for a token first, and refuses a wrong one', async () => {
    await page.goto(`${url}/machines/${uuid(1)}`);
    expect(page.url()).toBe(`${url}/login`);
    await page.fill('input[name=token]', 'anm_00000000_not-a-token');
    await page.click('button[type=submit]');
    await expect(page.locator('.error').textContent()).resolves.toMatch(/not known/);
    await signIn(page, url, tokens.reader);
    await screenshot(page, 'registry-list');
    expect(await rows()).toEqual(['db1', 'spare1', 'web1']);
  });

  it('searches, filters by state and tag, and sorts', async () => {
    await page.fill('input[name=q]', 'SRV0002');
    await page.click('form button[type=submit]');
    expect(await rows()).toEqual(['db1']);
    await page.goto(`${url}/`);
    await page.selectOption('select[name=state]', 'deployed');
    await page.click('form button[type=submit]');
    expect(await rows()).toEqual(['web1']);
    await page.goto(`${url}/`);
    await page.click('a.tag:text("rack3")');
    expect(await rows()).toEqual(['db1']);
    await page.goto(`${url}/`);
    await page.click('th a:text("State")');
    expect(await rows()).toEqual(['web1', 'db1', 'spare1']); // deployed, failed, new
  });

  it("shows a machine's hardware, its changes, its deployments' events as a timeline and its audit log", async () => {
    await page.goto(`${url}/`);
    await page.click('a:text("web1")');
    await screenshot(page, 'registry-machine');
    const text = (sel: string) => page.locator(sel).innerText();
    expect(await text('#inventory')).toMatch(/Dell Inc\. PowerEdge R650[\s\S]*SRV0001[\s\S]*eno1[\s\S]*52:54:00:00:00:01 bnxt_en/);
    expect(await text('#changes')).toMatch(/memory: 23\.5 GiB → 47\.1 GiB/);
    expect(await page.locator('#deployments ol.timeline li').allInnerTexts()).toEqual(['09:00:01 agent started (mode deploy)', '09:00:05 network up and checked', '09:02:00 DEPLOY SUCCEEDED in 119 s']);
    expect(await text('#deployments summary')).toMatch(/succeeded · deploy · 2026-12-06 09:00:01 UTC · 119 s · by ci/);
    expect(await text('#audit')).toMatch(/hardware changed[\s\S]*state changed[\s\S]*deployment started[\s\S]*machine registered/);
    // A reader sees no way to change the state.
    expect(await page.locator('button:text("Change state")').count()).toBe(0);
  });

  it('changes the state through a confirmation, as an admin, and the audit log says who', async () => {
    await page.context().clearCookies();
    await signIn(page, url, tokens.admin);
    await page.goto(`${url}/machines/${uuid(1)}`);
    await page.selectOption('select[name=state]', 'maintenance');
    await page.click('button:text("Change state")');
    await screenshot(page, 'registry-confirm');
    expect(await page.locator('h1').innerText()).toMatch(/Change web1 from deployed to maintenance\?/);
    await page.click('#confirm');
    expect(page.url()).toBe(`${url}/machines/${uuid(1)}`);
    expect(await page.locator('h1 .state').innerText()).toBe('maintenance');
    expect(await page.locator('#audit tr').first().innerText()).toMatch(/token:\w+\s+state changed\s+\{"to":"maintenance","from":"deployed"\}|token:\w+\s+state changed\s+\{"from":"deployed","to":"maintenance"\}/);
    // A retired machine offers nothing: the form is gone.
    await page.selectOption('select[name=state]', 'retired');
    await page.click('button:text("Change state")');
    await page.click('#confirm');
    expect(await page.locator('button:text("Change state")').count()).toBe(0);
  });
});
