// Validation of config.json inside the deploy environment: the contract's one schema.
import type {BootConfig} from '../core/boot-contract.js';
import {CONTRACT, validateBootConfig} from '../core/boot-contract.js';
import {AgentError} from './errors.js';

export function checkBootConfig(c: BootConfig): void {
  const bad = validateBootConfig(c);
  if (bad.length) throw new AgentError('config-invalid', `${CONTRACT.config} is invalid: ${bad.join('; ')}.`);
}
