// The one function that decides what a machine boots from the network, from its record
// in the registry: pure, so that the boot service, `anemos machines explain` and the API
// say the same thing, with the rule that decided it.

import type {MachineState} from '../registry/lifecycle.js';
import type {BootRequest} from './pxe.js';

/** What a discovered machine does while it waits for a deployment: stay up in RAM (SSH in), or power off until it is woken. */
export type Idle = 'wait' | 'poweroff';

/** What the registry knows of the asking machine (found by the MAC it asks with). */
export interface BootRecord {
  id: string;
  state: MachineState;
  /** Whether it has a desired deployment. */
  desired: boolean;
  /** Whether that deployment is the distribution's installer (installer:), not a payload. */
  installer?: boolean;
  /** Whether that deployment boots a live image into RAM (config live:), not a payload to disk. */
  live?: boolean;
  /** Whether it was first registered by a network boot (it waits in RAM for a deployment), not from its own system. */
  discovered: boolean;
  /** The record's own say (attribute idle: wait|poweroff), over the server's --discover-idle. */
  idle?: Idle;
}

export type BootDecision =
  /** The deploy environment: deploy (run the desired deployment), live (boot its live image into RAM), test (SSH in to look), register (report the inventory, then wait for a deployment). */
  | {boot: 'environment'; mode: 'deploy' | 'live' | 'test' | 'register'; rule: string; /** register: power off once registered, until woken. */ idle?: 'poweroff'}
  /** The distribution's installer from an ISO, with the answer file rendered for it. */
  | {boot: 'installer'; rule: string}
  | {boot: 'local-disk'; rule: string}
  /** No answer: the client goes on to its next boot device. */
  | {boot: 'none'; rule: string};

export interface DecisionOptions {
  /** --discover: unknown machines boot the deploy environment in register mode. */
  discover: boolean;
  /** --discover-idle: what a registered machine does while it waits (default wait). */
  idle?: Idle;
}

export function bootDecision(req: Pick<BootRequest, 'mac'>, record: BootRecord | undefined, o: DecisionOptions): BootDecision {
  if (!record) {
    return o.discover
      ? idling({boot: 'environment', mode: 'register', rule: `${req.mac} is not in the registry and discovery is on: it registers itself and waits for a deployment`}, o.idle)
      : {boot: 'none', rule: `${req.mac} is not in the registry and discovery is off (anemos serve --discover): no answer`};
  }
  const who = `${record.id} (${req.mac}) is ${record.state}`;
  switch (record.state) {
    case 'retired':
      return {boot: 'none', rule: `${who}: a retired machine gets no answer`};
    case 'deployed':
      // A live image lives in RAM: every boot boots it again (its disk holds no system of anemos').
      if (record.desired && record.live) return {boot: 'environment', mode: 'live', rule: `${who} with a live image as its desired deployment: every boot boots it into RAM (its disk is not written)`};
      return {boot: 'local-disk', rule: `${who}: it boots its disk`};
    case 'maintenance':
      return {boot: 'local-disk', rule: `${who}: it boots its disk`};
    case 'failed':
      return {boot: 'environment', mode: 'test', rule: `${who}: the deploy environment in test mode, to look at it over SSH (nothing is written)`};
    case 'ready':
    case 'provisioning':
      if (record.desired && record.installer) return {boot: 'installer', rule: `${who} with a desired deployment that names an installer: the installer boots from its ISO with the answer file rendered for it`};
      if (record.desired && record.live) return {boot: 'environment', mode: 'live', rule: `${who} with a live image as its desired deployment: the deploy environment boots it into RAM (its disk is not written)`};
      if (record.desired) return {boot: 'environment', mode: 'deploy', rule: `${who} with a desired deployment: the deploy environment runs it`};
      return waitOrDisk(record, `${who} without a desired deployment`, o);
    case 'new':
      return waitOrDisk(record, who, o);
  }
}

/** A machine with nothing to run yet: one found by a network boot waits in RAM (or powers off); one that runs its own system boots it. */
function waitOrDisk(record: BootRecord, why: string, o: DecisionOptions): BootDecision {
  return record.discovered
    ? idling({boot: 'environment', mode: 'register', rule: `${why}; found by a network boot, it waits in the deploy environment for a deployment`}, record.idle ?? o.idle, record.idle ? 'its record' : '--discover-idle')
    : {boot: 'local-disk', rule: `${why}; registered from its own system, it boots its disk until it is ready with a desired deployment`};
}

/** Register mode, powering off once registered when the record (or the server) says so. */
function idling(d: BootDecision & {boot: 'environment'}, idle: Idle | undefined, who = '--discover-idle'): BootDecision {
  if (idle !== 'poweroff') return d;
  return {...d, idle: 'poweroff', rule: `${d.rule}; once registered it powers off until it is woken (anemos machines wake), as ${who} says`};
}

/** An installer decision whose media or answer file does not hold: no answer, and why (the machine is not booted into an installer that would stop at a question). */
export function installerRefused(d: BootDecision, problem: string): BootDecision {
  return {boot: 'none', rule: `${d.rule}, but ${problem}: it is not booted into an installer that would stop at a question`};
}
