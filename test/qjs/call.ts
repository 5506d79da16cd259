// The agent's functions that touch files, called under the real qjs for the unit tests
// (test/helpers/qjs.ts): argv is a name and its JSON arguments; the result is printed as JSON.

import {tidyBootEntries} from '../../src/agent/boot-entries.js';
import {AgentLog} from '../../src/agent/log.js';
import {Reporter} from '../../src/agent/report.js';
import type {LogEvent} from '../../src/agent/log.js';
import type {ReportTarget} from '../../src/core/boot-contract.js';
import {args, existsSync, exit, readFileSync, runner, stdout} from '../../src/agent/runtime.js';
import {readLinks} from '../../src/agent/system.js';

const calls: Record<string, (...a: never[]) => unknown> = {
  /** The agent's reporter with the real wget: these events to the registry, for at most `seconds`; what it logged. */
  report: async (target: ReportTarget, dir: string, machine: {uuid?: string; macs: string[]}, events: LogEvent[], seconds: number) => {
    const log = new AgentLog({consoles: ['null'], kmsg: false, dir});
    const reporter = new Reporter(target, machine, 'deploy', runner, log, dir);
    for (const e of events) reporter.add(e);
    const delivered = await reporter.drain(seconds);
    return {delivered, log: existsSync(`${dir}/deploy.log`) ? readFileSync(`${dir}/deploy.log`, 'utf8') : ''};
  },
  readLinks: (sysfs: string) => readLinks(sysfs),
  tidyBootEntries: (efivars: string, logDir: string, before: string[], after: string[]) => {
    const log = new AgentLog({consoles: ['null'], kmsg: false, dir: logDir});
    tidyBootEntries(log, new Set(before), {efivars, after: new Set(after)});
  },
};

const [name, json] = args();
stdout(`${JSON.stringify((await calls[name!]!(...(JSON.parse(json!) as never[]))) ?? null)}\n`);
exit(0);
