// The agent's functions that touch files, called under the real qjs for the unit tests
// (test/helpers/qjs.ts): argv is a name and its JSON arguments; the result is printed as JSON.

import {tidyBootEntries} from '../../src/agent/boot-entries.js';
import {AgentLog} from '../../src/agent/log.js';
import {args, exit, stdout} from '../../src/agent/runtime.js';
import {readLinks} from '../../src/agent/system.js';

const calls: Record<string, (...a: never[]) => unknown> = {
  readLinks: (sysfs: string) => readLinks(sysfs),
  tidyBootEntries: (efivars: string, logDir: string, before: string[], after: string[]) => {
    const log = new AgentLog({consoles: ['null'], kmsg: false, dir: logDir});
    tidyBootEntries(log, new Set(before), {efivars, after: new Set(after)});
  },
};

const [name, json] = args();
stdout(`${JSON.stringify((await calls[name!]!(...(JSON.parse(json!) as never[]))) ?? null)}\n`);
exit(0);
