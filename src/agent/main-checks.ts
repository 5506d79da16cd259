// Validation of config.json inside the deploy environment.
import type {BootConfig} from '../core/boot-contract.js';
import {CONTRACT} from '../core/boot-contract.js';
import {AgentError} from './errors.js';

export function checkBootConfig(c: BootConfig): void {
  const bad: string[] = [];
  if (c?.version !== 1) bad.push('version must be 1');
  if (c?.mode !== 'deploy' && c?.mode !== 'test') bad.push('mode must be deploy or test');
  if (c?.mode === 'deploy' && (!c.payload?.file || !/^[0-9a-f]{64}$/.test(c.payload.sha256 ?? ''))) bad.push('payload.file and payload.sha256 are required in deploy mode');
  if (!(c?.timeout > 0) || !(c?.network_timeout > 0)) bad.push('timeout and network_timeout must be positive');
  if (bad.length) throw new AgentError('config-invalid', `${CONTRACT.config} is invalid: ${bad.join('; ')}.`);
}
