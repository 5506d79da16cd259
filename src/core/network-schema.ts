// The schema of network.json, one for everyone who reads it: a "network:" mapping in
// anemos.conf, "anemos network render --network F", and the agent and anemos-netconf in
// the deploy environment. validateNetwork() adds what a schema cannot say (prefix length
// by family, the key is the interface's MAC); normalizeNetwork() fills the defaults.

import {join, validate, type Schema, type SchemaProblem} from './json-schema.js';
import type {NetworkConfig} from './network.js';

const MAC = '^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$';
const IPV4 = '^((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])$';
const IPV6 = '^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*$';
const IP = `(${IPV4})|(${IPV6})`;
const ipHint = 'Write an IPv4 address (192.0.2.10) or an IPv6 address (2001:db8::10), without a prefix.';

const family: Schema = {type: 'integer', enum: [4, 6], description: 'IP version: 4 or 6.'};

export const NETWORK_SCHEMA: Schema = {
  type: 'object',
  description: 'network.json: interfaces keyed by MAC, their addresses and routes, DNS (the output of "anemos network detect --json").',
  additionalProperties: false,
  required: ['interfaces'],
  properties: {
    version: {type: 'integer', enum: [1], description: 'Format version: 1.'},
    hostname: {type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$'},
    interfaces: {
      type: 'object',
      description: 'Interfaces keyed by their MAC address (names differ between the host and the deploy environment).',
      propertyNames: {pattern: MAC, 'x-hint': 'Key each interface by its MAC address, like 52:54:00:12:34:56.'},
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['mac', 'name'],
        properties: {
          mac: {type: 'string', pattern: MAC, 'x-hint': 'A MAC address like 52:54:00:12:34:56.'},
          name: {type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,14}$', description: 'The name on the host (renderers that need a name use it, or the new system\'s own).'},
          mtu: {type: 'integer', minimum: 576, maximum: 65535},
          dhcp4: {type: 'boolean', default: false},
          slaac: {type: 'boolean', default: false},
          addresses: {
            type: 'array',
            default: [],
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['address', 'prefix', 'family'],
              properties: {
                address: {type: 'string', pattern: IP, 'x-hint': ipHint},
                prefix: {type: 'integer', minimum: 0, maximum: 128},
                family,
                dynamic: {type: 'boolean'},
              },
            },
          },
          routes: {
            type: 'array',
            default: [],
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['to', 'family'],
              properties: {
                to: {type: 'string', pattern: `^(default|((${IPV4})|(${IPV6}))(/[0-9]{1,3})?)$`, 'x-hint': 'Write "default" or a destination like 10.1.0.0/16.'},
                via: {type: 'string', pattern: IP, 'x-hint': ipHint},
                onlink: {type: 'boolean'},
                metric: {type: 'integer', minimum: 0},
                family,
                dynamic: {type: 'boolean'},
              },
            },
          },
        },
      },
    },
    dns: {
      type: 'object',
      additionalProperties: false,
      properties: {
        servers: {type: 'array', items: {type: 'string', pattern: IP, 'x-hint': ipHint}},
        search: {type: 'array', items: {type: 'string', pattern: '^[A-Za-z0-9.-]+$'}},
      },
    },
    skipped: {type: 'array', items: {type: 'object', properties: {name: {type: 'string'}, reason: {type: 'string'}}}},
  },
};

const isV6 = (a: string) => a.includes(':');

/** Every problem of a network.json value, with paths below `path` ("network" in anemos.conf). */
export function validateNetwork(value: unknown, path = ''): SchemaProblem[] {
  const problems = validate(NETWORK_SCHEMA, value, path);
  if (problems.length || !value || typeof value !== 'object') return problems;
  const at = (...keys: (string | number)[]) => keys.reduce<string>((p, k) => join(p, k), path);
  const net = value as NetworkConfig;
  for (const [key, i] of Object.entries(net.interfaces)) {
    if (key.toLowerCase() !== i.mac.toLowerCase()) problems.push({path: at('interfaces', key, 'mac'), message: `is ${i.mac}, but the interface is keyed by ${key}`, hint: 'Key each interface by its own MAC address.'});
    (i.addresses ?? []).forEach((a, n) => {
      if (isV6(a.address) !== (a.family === 6)) problems.push({path: at('interfaces', key, 'addresses', n, 'family'), message: `is ${a.family}, but ${a.address} is an IPv${isV6(a.address) ? 6 : 4} address`});
      if (a.family === 4 && a.prefix > 32) problems.push({path: at('interfaces', key, 'addresses', n, 'prefix'), message: `must be at most 32 for IPv4, not ${a.prefix}`});
    });
    (i.routes ?? []).forEach((r, n) => {
      if (r.via && isV6(r.via) !== (r.family === 6)) problems.push({path: at('interfaces', key, 'routes', n, 'family'), message: `is ${r.family}, but the gateway ${r.via} is an IPv${isV6(r.via) ? 6 : 4} address`});
    });
  }
  return problems;
}

/** A valid network value with its defaults filled in (validateNetwork first). */
export function normalizeNetwork(value: unknown): NetworkConfig {
  const n = value as Partial<NetworkConfig> & {interfaces: NetworkConfig['interfaces']};
  return {
    version: 1,
    ...(n.hostname ? {hostname: n.hostname} : {}),
    interfaces: Object.fromEntries(
      Object.values(n.interfaces).map((i) => {
        const mac = i.mac.toLowerCase();
        return [mac, {...i, mac, dhcp4: i.dhcp4 ?? false, slaac: i.slaac ?? false, addresses: i.addresses ?? [], routes: i.routes ?? []}];
      }),
    ),
    dns: {servers: n.dns?.servers ?? [], search: n.dns?.search ?? []},
    skipped: n.skipped ?? [],
  };
}
