// Reports to the machine registry (anemos serve), when config.json names one: the
// inventory once, then every event as it happens, in batches, with wget, with this
// deployment's own token (kept in a 0600 wgetrc, off wget's command line) and the
// registry's pinned key or CA. The deploy never waits on it: events queue in memory while
// the registry is unreachable or failing (tried again after 1, 2, 4 … 30 s) and go when it
// answers. A batch the registry refuses as malformed is dropped with one warning and the
// rest goes on; the outcome is sent again on its own if it was in it. A refused token
// stops reporting.

import type {ReportTarget} from '../core/boot-contract.js';
import type {HardwareInventory} from '../core/inventory.js';
import type {Report} from '../core/registry/lifecycle.js';
import type {Runner} from '../shared/command.js';
import type {AgentLog, LogEvent} from './log.js';
import {now, sleep, writeFileSync} from './runtime.js';

/** Events per request: 200 with an inventory stay well under the registry's 1 MiB. */
const BATCH = 200;
/** Characters of a message sent; the registry keeps at most 16 KiB (MAX_EVENT_MESSAGE). */
const MAX_MESSAGE = 8192;
/** Seconds between attempts while the registry is away or failing: doubled each time up to this. */
const MAX_BACKOFF = 30;
/** Kept when the registry stays away: the newest are what a watcher most needs; the count of dropped ones is said. */
const MAX_QUEUED = 5000;

export interface ReportedMachine {
  uuid?: string;
  macs: string[];
  hostname?: string;
}

/** What wget said, as the registry's answer: its HTTP status when there was one. */
export function parseWgetStatus(stderr: string): number | undefined {
  const all = [...stderr.matchAll(/HTTP\/[\d.]+ (\d{3})/g)];
  return all.length ? Number(all.at(-1)![1]) : undefined;
}

export class Reporter {
  private queue: LogEvent[] = [];
  private dropped = 0;
  private inventory: HardwareInventory | undefined;
  private busy: Promise<boolean> | undefined;
  private down = false;
  private refused = false;
  private running = false;
  private batchSize = BATCH;
  private inventoryAlone = false;
  /** Outcomes sent again in their short form (once). */
  private readonly resent = new Set<number>();
  private backoff = 1;
  private readonly endpoint: string;
  private readonly wgetrc: string;

  constructor(
    private target: ReportTarget,
    private machine: ReportedMachine,
    private mode: 'deploy' | 'test',
    private runner: Runner,
    private log: AgentLog,
    private dir: string,
  ) {
    this.endpoint = `${target.url.replace(/\/+$/, '')}/api/v1/reports`;
    if (target.ca) writeFileSync(`${dir}/registry-ca.pem`, target.ca);
    // The token in wget's own config file (wgetrc's "header"), not on its command line, which any process reads.
    this.wgetrc = `${dir}/registry.wgetrc`;
    writeFileSync(this.wgetrc, `header = Authorization: Bearer ${target.token}\nheader = Content-Type: application/json\n`, {mode: 0o600});
  }

  setInventory(inv: HardwareInventory): void {
    this.inventory = inv;
  }

  add(e: LogEvent): void {
    if (this.refused) return;
    this.queue.push(e.msg.length > MAX_MESSAGE ? {...e, msg: `${e.msg.slice(0, MAX_MESSAGE)}… (${e.msg.length - MAX_MESSAGE} more characters)`} : e);
    if (this.queue.length > MAX_QUEUED) {
      this.queue.shift();
      this.dropped++;
    }
  }

  /** Send in the background from now on (once the network is up): every second, less often while the registry is away. */
  start(): void {
    if (this.running) return;
    this.running = true;
    const tick = (): void => void this.flush().then((ok) => (this.running && !this.refused ? sleep((ok ? 1 : this.backoff) * 1000).then(tick) : undefined));
    tick();
  }

  /** Send what is queued (one batch at a time); true when nothing is left. At most `seconds` when given. */
  async drain(seconds: number): Promise<boolean> {
    const t0 = now();
    // The last seconds before the reboot: no backoff, the outcome must get out if it can.
    while (this.pendingCount() && !this.refused && now() - t0 < seconds * 1000) {
      if (!(await this.flush())) await sleep(500);
    }
    return !this.pendingCount();
  }

  private pendingCount(): number {
    return this.queue.length + (this.inventory ? 1 : 0);
  }

  /** One request: the inventory when not yet taken, and the oldest queued events. */
  flush(): Promise<boolean> {
    this.busy ??= this.send().finally(() => (this.busy = undefined));
    return this.busy;
  }

  private async send(): Promise<boolean> {
    if (this.refused || !this.pendingCount()) return true;
    // After a refusal the inventory goes alone, so the events are not held back by it (or it by them).
    const batch = this.inventoryAlone ? [] : this.queue.slice(0, this.batchSize);
    const inventory = this.inventory;
    // The registry's own type of a report (core/registry/lifecycle.ts): what it validates is what is sent.
    const body: Report = {
      machine: {...(this.machine.uuid ? {uuid: this.machine.uuid} : {}), macs: this.machine.macs, ...(this.machine.hostname ? {hostname: this.machine.hostname} : {})},
      ...(inventory ? {inventory} : {}),
      deployment: {id: this.target.deployment, mode: this.mode, source: 'agent'},
      events: batch,
    };
    const file = `${this.dir}/report-request.json`;
    try {
      writeFileSync(file, JSON.stringify(body));
    } catch (err) {
      // /run is full (a payload filled it): tried again later, like a registry that is away.
      if (!this.down) this.log.warn(`the report to ${this.target.url} could not be written (${(err as Error).message}): events are kept and sent when there is room`);
      this.down = true;
      return false;
    }
    const r = await this.runner.run(
      'wget',
      [
        '--no-verbose',
        '--server-response',
        '--tries=1',
        '--timeout=5',
        '--output-document=/dev/null',
        `--config=${this.wgetrc}`,
        `--post-file=${file}`,
        // A pinned key: that key and no other, whatever the certificate's names (a self-signed anemos serve --tls auto).
        ...(this.target.pin ? [`--pinnedpubkey=${this.target.pin}`, '--no-check-certificate'] : this.target.ca ? [`--ca-certificate=${this.dir}/registry-ca.pem`] : []),
        this.endpoint,
      ],
      {allowFail: true, timeoutMs: 15_000},
      // A registry that answers too slowly (wget killed at the limit) is one that is away: the deploy goes on.
    ).catch(() => ({stdout: '', stderr: 'no answer within 15 s: wget was stopped', exitCode: -1}));
    const status = parseWgetStatus(r.stderr);
    if (r.exitCode === 0) {
      this.queue.splice(0, batch.length);
      if (inventory === this.inventory) this.inventory = undefined;
      if (this.down) this.log.info(`registry ${this.target.url} answers again: the queued events went to it`);
      this.down = false;
      this.backoff = 1;
      this.inventoryAlone = false;
      return true;
    }
    if (status === 400 || status === 413) return this.refusedAsMalformed(status, batch, inventory);
    if (status === 401 || status === 403) {
      // Sent again, it would be refused again: say so once and stop reporting; the deploy goes on.
      this.refused = true;
      this.queue = [];
      this.inventory = undefined;
      this.log.warn(`registry ${this.target.url} refused the report (HTTP ${status}: this deployment's token is not valid there, or speaks for another machine); no more reports this boot. The deploy goes on.`);
      return true;
    }
    if (!this.down) {
      // wget says the pin did not match on a line of its own, before its last one.
      const said = /pinned public key/.test(r.stderr) ? 'its key is not the pinned one: something else answers at that address' : (r.stderr.trim().split('\n').filter(Boolean).at(-1) ?? `wget exit ${r.exitCode}`);
      this.log.warn(`registry ${this.target.url} unreachable (${status ? `HTTP ${status}` : said}): events are kept and sent when it answers; the deploy goes on`);
    }
    this.down = true;
    this.backoff = Math.min(MAX_BACKOFF, this.backoff * 2);
    if (this.dropped) this.log.warn(`${this.dropped} event(s) were dropped from the registry's queue (more than ${MAX_QUEUED} waiting)`);
    this.dropped = 0;
    return false;
  }

  /**
   * The registry refused the request as malformed or too large: sent again it would be
   * refused again. Find what it refuses, by halves (the inventory on its own first), and
   * drop only that, with a warning; the outcome, if it is the one, goes again cut short.
   */
  private refusedAsMalformed(status: number, batch: LogEvent[], inventory: HardwareInventory | undefined): boolean {
    if (inventory && batch.length) {
      this.inventoryAlone = true;
      return true;
    }
    if (inventory) {
      this.inventory = undefined;
      this.inventoryAlone = false;
      this.log.warn(`registry ${this.target.url} refused this machine's inventory (HTTP ${status}): it is not sent; reporting goes on.`);
      return true;
    }
    if (batch.length > 1) {
      this.batchSize = Math.max(1, Math.floor(batch.length / 2));
      return true;
    }
    const [bad] = this.queue.splice(0, 1);
    this.batchSize = BATCH;
    this.log.warn(`registry ${this.target.url} refused event ${bad?.seq} (HTTP ${status}): it is dropped there, kept here; reporting goes on.`);
    const short = (m: string) => String(m).slice(0, 200).replace(/[^\x20-\x7e]/g, '?');
    if (bad?.outcome && !this.resent.has(bad.seq)) {
      this.resent.add(bad.seq);
      this.queue.unshift({seq: bad.seq, t: new Date().toISOString(), level: bad.level === 'error' || bad.level === 'warn' ? bad.level : 'info', outcome: bad.outcome, ...(bad.action ? {action: bad.action} : {}), msg: short(bad.msg)});
    }
    return true;
  }
}
