// Reports to the machine registry (anemos serve), when config.json names one: the
// inventory once, then every event as it happens, in batches, with wget. The deploy never
// waits on it: events queue in memory while the registry is unreachable and go when it
// answers; an event is dropped only once the registry has taken it (or refused it for good).

import type {ReportTarget} from '../core/boot-contract.js';
import type {HardwareInventory} from '../core/inventory.js';
import type {Runner} from '../shared/command.js';
import type {AgentLog, LogEvent} from './log.js';
import {sleep, writeFileSync} from './runtime.js';

/** Events per request: 200 with an inventory stay well under the registry's 1 MiB. */
const BATCH = 200;
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
  private readonly endpoint: string;

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
  }

  setInventory(inv: HardwareInventory): void {
    this.inventory = inv;
  }

  add(e: LogEvent): void {
    if (this.refused) return;
    this.queue.push(e);
    if (this.queue.length > MAX_QUEUED) {
      this.queue.shift();
      this.dropped++;
    }
  }

  /** Send in the background from now on (once the network is up), every second. */
  start(): void {
    if (this.running) return;
    this.running = true;
    const tick = (): void => void this.flush().then(() => (this.running && !this.refused ? sleep(1000).then(tick) : undefined));
    tick();
  }

  /** Send what is queued (one batch at a time); true when nothing is left. At most `seconds` when given. */
  async drain(seconds: number): Promise<boolean> {
    const t0 = performance.now();
    while (this.pendingCount() && !this.refused && performance.now() - t0 < seconds * 1000) {
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
    const batch = this.queue.slice(0, BATCH);
    const inventory = this.inventory;
    const body = {
      machine: {...(this.machine.uuid ? {uuid: this.machine.uuid} : {}), macs: this.machine.macs, ...(this.machine.hostname ? {hostname: this.machine.hostname} : {})},
      ...(inventory ? {inventory} : {}),
      deployment: {id: this.target.deployment, mode: this.mode, source: 'agent'},
      events: batch,
    };
    const file = `${this.dir}/report-request.json`;
    writeFileSync(file, JSON.stringify(body));
    const r = await this.runner.run(
      'wget',
      [
        '--no-verbose',
        '--server-response',
        '--tries=1',
        '--timeout=5',
        '--output-document=/dev/null',
        `--header=Authorization: Bearer ${this.target.token}`,
        '--header=Content-Type: application/json',
        `--post-file=${file}`,
        ...(this.target.ca ? [`--ca-certificate=${this.dir}/registry-ca.pem`] : []),
        this.endpoint,
      ],
      {allowFail: true, timeoutMs: 15_000},
    );
    const status = parseWgetStatus(r.stderr);
    if (r.exitCode === 0) {
      this.queue.splice(0, batch.length);
      if (inventory === this.inventory) this.inventory = undefined;
      if (this.down) this.log.info(`registry ${this.target.url} answers again: the queued events went to it`);
      this.down = false;
      return true;
    }
    if (status === 400 || status === 401 || status === 403) {
      // Sent again, it would be refused again: say so once and stop reporting; the deploy goes on.
      this.refused = true;
      this.queue = [];
      this.inventory = undefined;
      this.log.warn(`registry ${this.target.url} refused the report (HTTP ${status}${status === 400 ? ': the report is invalid' : ': the token is not valid there, or may not report'}); no more reports this boot. The deploy goes on.`);
      return true;
    }
    if (!this.down) {
      const said = r.stderr.trim().split('\n').filter(Boolean).at(-1) ?? `wget exit ${r.exitCode}`;
      this.log.warn(`registry ${this.target.url} unreachable (${status ? `HTTP ${status}` : said}): events are kept and sent when it answers; the deploy goes on`);
    }
    this.down = true;
    if (this.dropped) this.log.warn(`${this.dropped} event(s) were dropped from the registry's queue (more than ${MAX_QUEUED} waiting)`);
    this.dropped = 0;
    return false;
  }
}
