// How a command reaches the registry: the same flags and environment everywhere (machines,
// tokens, inventory --report, deploy --from-registry). The token never comes from a flag's
// value: ANEMOS_REGISTRY_TOKEN or a 0600 file.

import {Flags} from '@oclif/core';
import {PIN_PATTERN} from '../core/config.js';
import type {RegistryFlags} from '../services/registry/client.js';
import {usageError} from '../shared/errors.js';

export const registryTrustFlags = {
  'registry-ca': Flags.string({description: "PEM file of the CA that signed the registry's certificate (for anemos serve --tls auto, its tls-cert.pem).", env: 'ANEMOS_REGISTRY_CA'}),
  'registry-fingerprint': Flags.string({description: "Pin of the registry's public key as anemos serve prints it (sha256//BASE64): that registry and no other.", env: 'ANEMOS_REGISTRY_FINGERPRINT'}),
  'insecure-registry': Flags.boolean({description: 'Allow plain http:// to a registry that is not on this machine (anyone on the path could answer in its place).', env: 'ANEMOS_INSECURE_REGISTRY'}),
};

export const registryFlags = {
  registry: Flags.string({description: 'The registry: https://HOST:PORT.', env: 'ANEMOS_REGISTRY', required: true}),
  'token-file': Flags.string({description: 'A file only you can read (0600) holding the token (default ~/.config/anemos/registry-token); or set ANEMOS_REGISTRY_TOKEN.', env: 'ANEMOS_REGISTRY_TOKEN_FILE'}),
  ...registryTrustFlags,
};

export interface RegistryFlagValues {
  registry?: string;
  'token-file'?: string;
  'registry-ca'?: string;
  'registry-fingerprint'?: string;
  'insecure-registry'?: boolean;
}

export function registryFlagValues(flags: RegistryFlagValues): RegistryFlags {
  const pin = flags['registry-fingerprint'];
  if (pin && !new RegExp(PIN_PATTERN).test(pin)) throw usageError('registry-fingerprint', `--registry-fingerprint ${pin} is not a pin.`, 'Copy the fingerprint anemos serve prints at start: sha256// and 44 base64 characters.');
  return {
    ...(flags.registry ? {url: flags.registry} : {}),
    ...(process.env.ANEMOS_REGISTRY_TOKEN ? {tokenEnv: process.env.ANEMOS_REGISTRY_TOKEN} : {}),
    ...(flags['token-file'] ? {tokenFile: flags['token-file']} : {}),
    ...(flags['registry-ca'] ? {caFile: flags['registry-ca']} : {}),
    ...(pin ? {fingerprint: pin} : {}),
    ...(flags['insecure-registry'] ? {insecure: true} : {}),
  };
}
