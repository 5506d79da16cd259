// The registry's web UI in a real headless Chromium (Debian's): sign in (and out), find
// machines by text, state and tag, sort and page through them, open a machine's page
// (hardware, addresses, changes, attributes and the desired deployment edited in their
// forms, desired against deployed, deployments with their events and whose clock each
// time is), change its state through the confirmation, the fleet's deployments and audit
// log with their filters. A machine whose agent sent markup everywhere runs nothing.
// Screenshots are kept in .cache/test-screenshots/.

import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import type {Browser, Page} from 'playwright-core';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {openEmbedded} from '../../src/adapters/db.js';
import type {HardwareInventory} from '../../src/core/inventory.js';
import type {ReportEvent} from '../../src/core/registry/lifecycle.js';
import {Registry} from '../../src/services/registry/registry.js';
import {launchChromium, screenshot, signIn} from '../helpers/browser.js';
import {loadInventoryFixture} from '../helpers/inventory.js';
import {serveInProcess} from '../helpers/registry.js';

const {inventory: INVENTORY} = loadInventoryFixture('cloud-vm-virtio');
const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const EVIL = `<img src=x onerror="document.title='pwned'"><script>document.title='pwned'</script>`;
const sha = (c: string) => c.repeat(64);

describe('registry web UI in Chromium', () => {
  let browser: Browser;
  let page: Page;
  let url: string;
  let close: () => Promise<void>;
  const tokens = {admin: '', reader: ''};

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'anemos-ui-'));
    const registry = await Registry.open(await openEmbedded(dir));
    tokens.admin = (await registry.createToken({role: 'admin', note: 'alice'})).token;
    tokens.reader = (await registry.createToken({role: 'reader', note: 'dashboard'})).token;
    const operator = await registry.authenticate((await registry.createToken({role: 'operator', note: 'ci pipeline'})).token);
    const enroll = await registry.authenticate((await registry.createToken({role: 'enroll'})).token);
    const inv = (serial: string, mac: string, address: string): HardwareInventory => ({...structuredClone(INVENTORY), system: {...INVENTORY.system, vendor: 'Dell Inc.', product: 'PowerEdge R650', serial}, nics: [{name: 'eno1', mac, driver: 'bnxt_en', link: 'up', speedMbps: 25000, addresses: [address]}]});
    // Machines as they come: enrolled, then deployed (recorded by an operator, reported by the deployment's token).
    const machine = async (n: number, hostname: string, events: ReportEvent[] | undefined, artifacts = [{name: 'payload', sha256: sha('a')}]) => {
      const mac = `52:54:00:00:00:0${n}`;
      const {credential} = await registry.enroll({machine: {uuid: uuid(n), macs: [mac], hostname}, inventory: inv(`SRV000${n}`, mac, `192.0.2.${10 + n}/24`)}, enroll);
      if (!events) return credential;
      const id = `dep-20261206T09${n}000Z-aaaa000${n}`;
      const d = await registry.createDeployment({machine: {uuid: uuid(n), macs: [mac]}, id, mode: 'deploy', who: 'ci', artifacts}, operator, new Date('2026-12-06T09:00:00Z'));
      // Its token as the deploy environment used it then (a fixed date makes the page's times known).
      await registry.report({machine: {uuid: uuid(n), macs: [mac]}, deployment: {id}, events}, await registry.authenticate(d.token.token, new Date('2026-12-06T09:00:05Z')));
      return credential;
    };
    const web1 = await machine(1, 'web1', [
      {seq: 1, t: '2026-12-06T09:00:01.000Z', level: 'info', msg: 'agent started (mode deploy)'},
      {seq: 2, t: '2026-12-06T09:00:05.000Z', level: 'info', msg: 'network up and checked'},
      {seq: 3, t: '2026-12-06T09:02:00.000Z', level: 'info', msg: 'DEPLOY SUCCEEDED in 119 s', outcome: 'succeeded'},
    ]);
    const grown = inv('SRV0001', '52:54:00:00:00:01', '192.0.2.11/24');
    grown.memory = {...grown.memory, totalBytes: grown.memory.totalBytes * 2};
    await registry.report({machine: {uuid: uuid(1), macs: ['52:54:00:00:00:01']}, inventory: grown}, await registry.authenticate(web1.token));
    await machine(2, 'db1', [{seq: 1, level: 'error', msg: 'DEPLOY FAILED: ./deploy exited with code 3', outcome: 'failed'}]);
    await machine(3, 'spare1', undefined);
    await registry.patchMachine(uuid(2), {tags: ['rack3']}, operator.actor);
    // Enough more for a second page (100 a page).
    for (let n = 10; n < 107; n++) await registry.enroll({machine: {uuid: uuid(n), macs: [`52:54:00:00:01:${n.toString(16).padStart(2, '0')}`], hostname: `node${String(n).padStart(3, '0')}`}}, enroll);
    // An agent that sends markup in every field it sets.
    const evil: HardwareInventory = {...inv(EVIL, '52:54:00:00:00:09', '192.0.2.99/24'), disks: [{name: EVIL, sizeBytes: 1, rotational: false, removable: false, model: EVIL, serial: EVIL, byId: []}]};
    evil.nics[0]!.name = EVIL;
    await registry.enroll({machine: {uuid: uuid(9), macs: ['52:54:00:00:00:09'], hostname: 'evil'}, inventory: evil}, enroll);
    const served = await serveInProcess(registry);
    url = served.url;
    browser = await launchChromium();
    page = await browser.newPage({viewport: {width: 1280, height: 800}});
    close = async () => {
      await browser.close();
      await served.close();
      rmSync(dir, {recursive: true, force: true});
    };
  }, 120_000);
  afterAll(async () => close?.());

  // A click that navigates returns once the next page starts loading; reads that do not wait
  // for an element (evaluateAll, count, allInnerTexts) wait for it to have loaded.
  const loaded = () => page.waitForLoadState('load');
  const rows = async () => {
    await loaded();
    return page.locator('#machines tbody tr[data-machine]').evaluateAll((trs) => trs.map((tr) => tr.querySelector('td a')!.textContent));
  };
  const text = (sel: string) => page.locator(sel).innerText();

  it('asks for a token first, refuses a wrong one, says who is signed in, and pages the list with a total', async () => {
    await page.goto(`${url}/machines/${uuid(1)}`);
    expect(page.url()).toBe(`${url}/login`);
    await page.fill('input[name=token]', 'anm_00000000_not-a-token');
    await page.click('button[type=submit]');
    await expect(text('.error')).resolves.toMatch(/not known/);
    await signIn(page, url, tokens.reader);
    await screenshot(page, 'registry-list');
    expect(await text('#signed-in')).toBe('dashboard');
    expect(await text('header .who')).toMatch(/Signed in as dashboard \(reader\)/);
    expect(await text('#total')).toBe('101 machines, 100 on this page.');
    expect((await rows()).slice(0, 3)).toEqual(['db1', 'evil', 'node010']);
    expect((await rows()).at(-1)).toBe('spare1');
    await page.click('#next-page');
    expect(await rows()).toEqual(['web1']);
    expect(await text('#total')).toBe('101 machines, 1 on this page.');
  });

  it('searches (an address too), filters by state and tag, sorts; addresses are in the list', async () => {
    await page.goto(`${url}/`);
    await page.fill('input[name=q]', '192.0.2.12');
    await page.click('button.filter');
    expect(await rows()).toEqual(['db1']);
    expect(await text('#machines tbody td.addresses')).toBe('192.0.2.12/24');
    await page.goto(`${url}/`);
    await page.selectOption('select[name=state]', 'deployed');
    await page.click('button.filter');
    expect(await rows()).toEqual(['web1']);
    await page.goto(`${url}/`);
    await page.click('a.tag:text("rack3")');
    expect(await rows()).toEqual(['db1']);
    await page.goto(`${url}/?q=web&sort=hostname`);
    await page.click('th a:text("State")');
    expect(page.url()).toContain('sort=state');
  });

  it("shows a machine's hardware, addresses, changes, its deployments' events with whose clock, and the audit log naming tokens by their note", async () => {
    await page.goto(`${url}/machines/${uuid(1)}`);
    await screenshot(page, 'registry-machine');
    expect(await text('#inventory')).toMatch(/Dell Inc\. PowerEdge R650[\s\S]*SRV0001[\s\S]*eno1[\s\S]*52:54:00:00:00:01 bnxt_en[\s\S]*192\.0\.2\.11\/24/);
    expect(await text('#addresses')).toBe('192.0.2.11/24');
    expect(await text('#changes')).toMatch(/memory: 23\.5 GiB → 47\.1 GiB/);
    expect(await page.locator('#deployments ol.timeline li').allInnerTexts()).toEqual(['09:00:01 agent started (mode deploy)', '09:00:05 network up and checked', '09:02:00 DEPLOY SUCCEEDED in 119 s']);
    expect(await text('#deployments summary')).toMatch(/^succeeded · deploy · recorded 2026-12-06 09:00:00 UTC \(registry clock\) · ran 2026-12-06 09:00:01 UTC \(machine's clock\) · 119 s · by ci/);
    expect(await text('#audit')).toMatch(/ci pipeline \(operator token [0-9a-f]{8}\)\s+deployment recorded/);
    // A reader sees no way to change anything.
    expect(await page.locator('button:text("Change state")').count()).toBe(0);
    expect(await page.locator('#save-desired').count()).toBe(0);
  });

  it('shows markup an agent sent as text: no tag is made, nothing runs', async () => {
    const dialogs: string[] = [];
    page.on('dialog', (d) => void (dialogs.push(d.message()), d.dismiss()));
    const response = await page.goto(`${url}/machines/${uuid(9)}`);
    expect(response!.headers()['content-security-policy']).toBe("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    expect(response!.headers()['x-frame-options']).toBe('DENY');
    await screenshot(page, 'registry-hostile');
    expect(await page.title()).toBe('evil · anemos registry');
    expect(await page.locator('#inventory img, #inventory script, main script').count()).toBe(0);
    expect(await text('#inventory')).toContain(EVIL);
    expect(dialogs).toEqual([]);
  });

  it('edits attributes and the desired deployment in their forms as an operator: validated like the API, and shown against what was deployed', async () => {
    await page.context().clearCookies();
    await signIn(page, url, tokens.admin);
    await page.goto(`${url}/machines/${uuid(1)}`);
    expect(await page.locator('#desired-vs-deployed tr[data-artifact=payload] td').last().innerText()).toBe('deployed, not desired');
    // A typo and a missing sha256: the form comes back with every problem, and nothing stored.
    await page.click('#desired summary');
    await page.fill('textarea[name=desired]', `payload: {url: https://images.example.net/web.tar.gz, sha256: ${sha('a')}}\nkernel: {url: https://images.example.net/vmlinuz}\nconfig:\n  deploy: {dsik: /dev/sda}\n`);
    await page.click('#save-desired');
    await loaded();
    await screenshot(page, 'registry-desired-problems');
    expect(await page.locator('#desired ul.problems li').allInnerTexts()).toEqual([expect.stringMatching(/^desired\.kernel\.sha256: is required but missing/), expect.stringMatching(/^desired\.config\.deploy\.dsik: is not a known key — Did you mean "disk"\?/)]);
    expect(await page.inputValue('textarea[name=desired]')).toMatch(/dsik/);
    await page.fill('textarea[name=desired]', `payload: {url: https://images.example.net/web.tar.gz, sha256: ${sha('a')}}\nkernel: {url: https://images.example.net/vmlinuz, sha256: ${sha('b')}}\nconfig:\n  deploy: {disk: /dev/sda}\n`);
    await page.click('#save-desired');
    expect(page.url()).toBe(`${url}/machines/${uuid(1)}`);
    expect(await text('#desired pre')).toMatch(/disk: \/dev\/sda/);
    // The payload is the one the last deployment ran; the kernel is not.
    expect(await page.locator('#desired-vs-deployed tr[data-artifact=payload] td').last().innerText()).toBe('deployed');
    expect(await page.locator('#desired-vs-deployed tr[data-artifact=kernel] td').last().innerText()).toBe('not deployed yet');
    await page.click('#attributes summary');
    await page.fill('textarea[name=attributes]', '{"rack": "r3", "owner": "web-team"}');
    await page.click('#save-attributes');
    expect(await text('#attributes table')).toMatch(/rack\s+"r3"[\s\S]*owner\s+"web-team"|owner\s+"web-team"[\s\S]*rack\s+"r3"/);
    await page.click('#attributes summary');
    await page.fill('textarea[name=attributes]', '{"owner": "web-team"}');
    await page.click('#save-attributes');
    expect(await text('#attributes table')).not.toMatch(/rack/);
    expect(await text('#audit')).toMatch(/alice \(admin token [0-9a-f]{8}\)\s+attributes changed/);
  });

  it('changes the state through a confirmation; the fleet\'s deployments and audit log filter; sign-out ends the session', async () => {
    await page.goto(`${url}/machines/${uuid(1)}`);
    await page.selectOption('select[name=state]', 'maintenance');
    await page.click('button:text("Change state")');
    await loaded();
    await screenshot(page, 'registry-confirm');
    expect(await page.locator('h1').innerText()).toMatch(/Change web1 from deployed to maintenance\?/);
    await page.click('#confirm');
    expect(page.url()).toBe(`${url}/machines/${uuid(1)}`);
    expect(await page.locator('h1 .state').innerText()).toBe('maintenance');
    await page.click('header a:text("Deployments")');
    await loaded();
    await screenshot(page, 'registry-deployments');
    expect(await page.locator('#deployment-list tbody tr[data-deployment]').count()).toBe(2);
    await page.selectOption('select[name=outcome]', 'failed');
    await page.click('button.filter');
    await loaded();
    expect(await page.locator('#deployment-list tbody tr[data-deployment] td a').allInnerTexts()).toEqual([uuid(2)]);
    await page.click('header a:text("Audit log")');
    await page.selectOption('select[name=action]', 'state changed');
    await page.click('button.filter');
    await loaded();
    await screenshot(page, 'registry-audit');
    const actions = await page.locator('#audit-list tbody tr td:nth-child(4)').allInnerTexts();
    expect(actions.length).toBeGreaterThanOrEqual(3);
    expect(new Set(actions)).toEqual(new Set(['state changed']));
    await page.click('#sign-out');
    expect(page.url()).toBe(`${url}/login`);
    await page.goto(`${url}/`);
    expect(page.url()).toBe(`${url}/login`);
  });
});
