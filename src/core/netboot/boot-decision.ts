// The one function that decides what a machine boots from the network, from its record
// in the registry: pure, so that the boot service, `anemos machines explain` and the API
// say the same thing, with the rule that decided it.

import type {MachineState} from '../registry/lifecycle.js';
import type {BootRequest} from './pxe.js';

/** What the registry knows of the asking machine (found by the MAC it asks with). */
export interface BootRecord {
  id: string;
  state: MachineState;
  /** Whether it has a desired deployment. */
  desired: boolean;
  /** Whether it was first registered by a network boot (it waits in RAM for a deployment), not from its own system. */
  discovered: boolean;
}

export type BootDecision =
  /** The deploy environment: deploy (run the desired deployment), test (SSH in to look), register (report the inventory, then wait for a deployment). */
  | {boot: 'environment'; mode: 'deploy' | 'test' | 'register'; rule: string}
  | {boot: 'local-disk'; rule: string}
  /** No answer: the client goes on to its next boot device. */
  | {boot: 'none'; rule: string};

export interface DecisionOptions {
  /** --discover: unknown machines boot the deploy environment in register mode. */
  discover: boolean;
}

export function bootDecision(req: Pick<BootRequest, 'mac'>, record: BootRecord | undefined, o: DecisionOptions): BootDecision {
  if (!record) {
    return o.discover
      ? {boot: 'environment', mode: 'register', rule: `${req.mac} is not in the registry and discovery is on: it registers itself and waits for a deployment`}
      : {boot: 'none', rule: `${req.mac} is not in the registry and discovery is off (anemos serve --discover): no answer`};
  }
  const who = `${record.id} (${req.mac}) is ${record.state}`;
  switch (record.state) {
    case 'retired':
      return {boot: 'none', rule: `${who}: a retired machine gets no answer`};
    case 'deployed':
    case 'maintenance':
      return {boot: 'local-disk', rule: `${who}: it boots its disk`};
    case 'failed':
      return {boot: 'environment', mode: 'test', rule: `${who}: the deploy environment in test mode, to look at it over SSH (nothing is written)`};
    case 'ready':
    case 'provisioning':
      if (record.desired) return {boot: 'environment', mode: 'deploy', rule: `${who} with a desired deployment: the deploy environment runs it`};
      return waitOrDisk(record, `${who} without a desired deployment`);
    case 'new':
      return waitOrDisk(record, who);
  }
}

/** A machine with nothing to run yet: one found by a network boot waits in RAM; one that runs its own system boots it. */
function waitOrDisk(record: BootRecord, why: string): BootDecision {
  return record.discovered
    ? {boot: 'environment', mode: 'register', rule: `${why}; found by a network boot, it waits in the deploy environment for a deployment`}
    : {boot: 'local-disk', rule: `${why}; registered from its own system, it boots its disk until it is ready with a desired deployment`};
}
