// anemos live diff: what differs on a live host from the image it booted, read on this
// machine or over SSH (--host) with the host's own tools (core/live/drift.ts).

import {mkdtemp, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {localHost, type Host} from '../adapters/host-files.js';
import {sshHost} from '../adapters/ssh-host.js';
import {destinationName, type SshDestination} from '../core/ssh-destination.js';
import {DRIFT_SCRIPT, driftSummary, parseDrift, type DriftEntry} from '../core/live/drift.js';
import {preconditionError} from '../shared/errors.js';

export interface LiveDiff {
  host: string;
  entries: DriftEntry[];
  summary: ReturnType<typeof driftSummary>;
}

async function diffOn(host: Host): Promise<LiveDiff> {
  const r = await host.runner.run('sh', ['-c', DRIFT_SCRIPT], {allowFail: true});
  if (r.exitCode === 3) throw preconditionError('not-live', `${host.name}: ${r.stderr.trim()}.`, 'Run it on a host booted with a live image (anemos deploy with live: in its anemos.conf), or name one with --host.');
  if (r.exitCode !== 0) throw preconditionError('live-diff-failed', `${host.name}: listing the live system's changes failed (exit ${r.exitCode}): ${r.stderr.trim().split('\n').slice(-2).join(' ')}`, 'Run it as root: the writable layer is root\'s.');
  const entries = parseDrift(r.stdout);
  return {host: host.name, entries, summary: driftSummary(entries)};
}

export async function liveDiff(destination?: SshDestination): Promise<LiveDiff> {
  if (!destination) return diffOn(localHost);
  const controlDir = await mkdtemp(join(tmpdir(), 'anemos-ssh-'));
  const host = sshHost(destination, controlDir);
  try {
    await host.connect();
    return {...(await diffOn(host)), host: destinationName(destination)};
  } finally {
    await host.close().catch(() => undefined);
    await rm(controlDir, {recursive: true, force: true});
  }
}
