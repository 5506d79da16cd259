// The schema of network.json, one for everyone who reads it: a "network:" mapping in
// anemos.conf, "anemos network render --network F", and the agent and anemos-netconf in
// the deploy environment. validateNetwork() adds what a schema cannot say (prefix length
// by family, the key is the interface's MAC); normalizeNetwork() fills the defaults.

import {join, validate, type Schema, type SchemaProblem} from './json-schema.js';
import {BOND_MODES, interfaceKey, type NetworkConfig} from './network.js';

const MAC = '^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$';
const IPV4 = '^((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])$';
const IPV6 = '^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*$';
const IP = `(${IPV4})|(${IPV6})`;
const ipHint = 'Write an IPv4 address (192.0.2.10) or an IPv6 address (2001:db8::10), without a prefix.';

const family: Schema = {type: 'integer', enum: [4, 6], description: 'IP version: 4 or 6.'};
const NAME = '^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,14}$';
const macProp: Schema = {type: 'string', pattern: MAC, 'x-hint': 'A MAC address like 52:54:00:12:34:56.'};

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
      description: 'Interfaces keyed by their MAC address (names differ between the host and the deploy environment); a VLAN by its MAC and VLAN id, like 52:54:00:12:34:56.100.',
      propertyNames: {pattern: `${MAC.slice(0, -1)}(\\.[0-9]{1,4})?$`, 'x-hint': 'Key each interface by its MAC address, like 52:54:00:12:34:56 (a VLAN: 52:54:00:12:34:56.100).'},
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['mac', 'name'],
        properties: {
          mac: macProp,
          name: {type: 'string', pattern: NAME, description: 'The name on the host (renderers that need a name use it, or the new system\'s own).'},
          bond: {
            type: 'object',
            description: 'This interface is a bond of the member NICs (created in the deploy environment and written for the new system).',
            additionalProperties: false,
            required: ['mode', 'members'],
            properties: {
              mode: {type: 'string', enum: [...BOND_MODES]},
              members: {
                type: 'array',
                minItems: 1,
                description: 'The member NICs by their own (permanent) MAC, with their names on the host.',
                items: {type: 'object', additionalProperties: false, required: ['mac', 'name'], properties: {mac: macProp, name: {type: 'string', pattern: NAME}}},
              },
              miimon: {type: 'integer', minimum: 0, description: 'Link monitoring interval in milliseconds.'},
              primary: {...macProp, description: 'active-backup: the member preferred as the active one.'},
              lacpRate: {type: 'string', enum: ['slow', 'fast']},
              xmitHashPolicy: {type: 'string', enum: ['layer2', 'layer2+3', 'layer3+4', 'encap2+3', 'encap3+4', 'vlan+srcmac']},
            },
          },
          vlan: {
            type: 'object',
            description: 'This interface is an 802.1Q VLAN on top of another interface of network.json.',
            additionalProperties: false,
            required: ['id', 'link'],
            properties: {
              id: {type: 'integer', minimum: 1, maximum: 4094},
              link: {type: 'string', pattern: MAC, 'x-hint': 'The key (MAC) of the NIC or bond in "interfaces" the VLAN rides on.'},
            },
          },
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
  const keys = new Set(Object.keys(net.interfaces).map((k) => k.toLowerCase()));
  const memberOf = new Map<string, string>();
  for (const [key, i] of Object.entries(net.interfaces)) for (const m of i.bond?.members ?? []) memberOf.set(m.mac.toLowerCase(), key);
  for (const [key, i] of Object.entries(net.interfaces)) {
    const want = interfaceKey(i);
    if (key.toLowerCase() !== want) problems.push({path: at('interfaces', key, 'mac'), message: `is ${i.mac}${i.vlan ? ` with VLAN ${i.vlan.id}` : ''}, but the interface is keyed by ${key}`, hint: i.vlan ? 'Key a VLAN by its MAC and VLAN id, like 52:54:00:12:34:56.100.' : 'Key each interface by its own MAC address.'});
    if (i.bond && i.vlan) problems.push({path: at('interfaces', key), message: 'is both a bond and a VLAN', hint: 'Write the bond and the VLAN on it as two interfaces; the VLAN\'s "link" names the bond.'});
    if (i.vlan) {
      const parent = net.interfaces[i.vlan.link] ?? net.interfaces[i.vlan.link.toLowerCase()];
      if (!parent) problems.push({path: at('interfaces', key, 'vlan', 'link'), message: `names ${i.vlan.link}, which is not an interface here`, hint: 'Add the NIC or bond the VLAN rides on to "interfaces" (without addresses if it has none).'});
      else if (parent.vlan) problems.push({path: at('interfaces', key, 'vlan', 'link'), message: `names ${i.vlan.link}, which is a VLAN itself`, hint: 'Stacked VLANs (QinQ) are not supported.'});
    }
    if (i.bond) {
      i.bond.members.forEach((m, n) => {
        if (keys.has(m.mac.toLowerCase())) problems.push({path: at('interfaces', key, 'bond', 'members', n, 'mac'), message: `${m.mac} is an interface of its own here as well`, hint: 'A bond member carries no configuration of its own: remove its entry.'});
        if (memberOf.get(m.mac.toLowerCase()) !== key) problems.push({path: at('interfaces', key, 'bond', 'members', n, 'mac'), message: `${m.mac} is a member of another bond too`});
      });
      if (i.bond.primary && !i.bond.members.some((m) => m.mac.toLowerCase() === i.bond!.primary!.toLowerCase())) problems.push({path: at('interfaces', key, 'bond', 'primary'), message: `${i.bond.primary} is not one of the bond's members`});
    }
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
        const bond = i.bond && {...i.bond, members: i.bond.members.map((m) => ({...m, mac: m.mac.toLowerCase()})), ...(i.bond.primary ? {primary: i.bond.primary.toLowerCase()} : {})};
        const vlan = i.vlan && {...i.vlan, link: i.vlan.link.toLowerCase()};
        const out = {...i, mac, ...(bond ? {bond} : {}), ...(vlan ? {vlan} : {}), dhcp4: i.dhcp4 ?? false, slaac: i.slaac ?? false, addresses: i.addresses ?? [], routes: i.routes ?? []};
        return [interfaceKey(out), out];
      }),
    ),
    dns: {servers: n.dns?.servers ?? [], search: n.dns?.search ?? []},
    skipped: n.skipped ?? [],
  };
}
