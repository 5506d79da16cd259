// The API's description, served at /api/v1/openapi.json. The schemas of what agents post
// are the ones the server validates with (core/inventory.ts, core/registry/lifecycle.ts).

import {INVENTORY_SCHEMA} from '../../core/inventory.js';
import {MACHINE_STATES, REPORT_SCHEMA, ROLES} from '../../core/registry/lifecycle.js';

const ref = (name: string) => ({$ref: `#/components/schemas/${name}`});
const json = (schema: unknown) => ({content: {'application/json': {schema}}});
const error = {description: 'The problem, in words', ...json(ref('Error'))};
const id = {name: 'id', in: 'path', required: true, schema: {type: 'string'}, description: "The machine's id: its DMI UUID, or mac-<lowest MAC> when the firmware has none"};

export function openApi(version: string): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {title: 'anemos registry', version, description: 'Machines, their hardware, lifecycle and deployments. Every request but this document needs `Authorization: Bearer <token>` (anemos serve token create).'},
    servers: [{url: '/api/v1'}],
    components: {
      securitySchemes: {token: {type: 'http', scheme: 'bearer', description: `Roles: ${ROLES.join(', ')}. A reporter only posts reports and reads desired deployments by MAC; a reader only reads; an admin does everything.`}},
      schemas: {
        Error: {type: 'object', required: ['error'], properties: {error: {type: 'object', properties: {message: {type: 'string'}, problems: {type: 'array'}, allowed: {type: 'array', items: {type: 'string'}}}}}},
        State: {type: 'string', enum: MACHINE_STATES},
        Inventory: INVENTORY_SCHEMA,
        Report: REPORT_SCHEMA,
        Machine: {type: 'object', properties: {id: {type: 'string'}, uuid: {type: ['string', 'null']}, hostname: {type: ['string', 'null']}, state: ref('State'), tags: {type: 'array', items: {type: 'string'}}, macs: {type: 'array', items: {type: 'string'}}, lastSeen: {type: ['string', 'null']}, hardware: {type: ['string', 'null']}, attributes: {type: 'object'}, desired: ref('Desired'), inventory: ref('Inventory')}},
        Desired: {type: ['object', 'null'], properties: {kernel: ref('Artifact'), initramfs: ref('Artifact'), payload: ref('Artifact'), config: {type: 'object', description: 'anemos.conf keys that override the machine’s own'}}},
        Artifact: {type: 'object', required: ['url', 'sha256'], properties: {url: {type: 'string'}, sha256: {type: 'string', pattern: '^[0-9a-f]{64}$'}}},
        Patch: {type: 'object', additionalProperties: false, properties: {state: ref('State'), tags: {type: 'array', items: {type: 'string'}}, attributes: {type: 'object'}, desired: ref('Desired'), hostname: {type: 'string'}}},
      },
    },
    security: [{token: []}],
    paths: {
      '/machines': {
        get: {
          summary: 'Machines, filtered',
          parameters: [
            {name: 'state', in: 'query', schema: ref('State')},
            {name: 'tag', in: 'query', schema: {type: 'string'}},
            {name: 'q', in: 'query', schema: {type: 'string'}, description: 'Text in the id, hostname, serial, product, a MAC or a tag'},
            {name: 'sort', in: 'query', schema: {type: 'string', enum: ['hostname', 'state', 'seen', 'id']}},
          ],
          responses: {200: {description: 'The machines', ...json({type: 'object', properties: {machines: {type: 'array', items: ref('Machine')}}})}, 401: error, 403: error},
        },
      },
      '/machines/{id}': {
        get: {summary: 'One machine with its last inventory', parameters: [id], responses: {200: {description: 'The machine', ...json(ref('Machine'))}, 404: error}},
        patch: {
          summary: 'Change state (as the lifecycle allows), tags, attributes, desired deployment (admin)',
          parameters: [id],
          requestBody: {required: true, ...json(ref('Patch'))},
          responses: {200: {description: 'The machine as it is now', ...json(ref('Machine'))}, 400: error, 403: error, 404: error, 409: {description: 'The lifecycle does not allow that transition; `allowed` lists what it does', ...json(ref('Error'))}},
        },
      },
      '/machines/{id}/deployments': {get: {summary: 'Deployments, newest first, each with every event', parameters: [id], responses: {200: {description: 'The deployments', ...json({type: 'object'})}, 404: error}}},
      '/machines/{id}/inventory-history': {get: {summary: 'Inventory reports, newest first, with what changed', parameters: [id], responses: {200: {description: 'The reports', ...json({type: 'object'})}, 404: error}}},
      '/machines/{id}/audit': {get: {summary: "The machine's audit log, newest first", parameters: [id], responses: {200: {description: 'The entries', ...json({type: 'object'})}, 404: error}}},
      '/machines/by-mac/{mac}/desired': {
        get: {summary: 'The desired deployment of the machine with this MAC (reporter or reader)', parameters: [{name: 'mac', in: 'path', required: true, schema: {type: 'string'}}], responses: {200: {description: 'Machine, state, desired', ...json({type: 'object'})}, 404: error}},
      },
      '/reports': {
        post: {
          summary: "A deploy environment's inventory and events (reporter or admin); stored whole or not at all, the same event twice once",
          requestBody: {required: true, ...json(ref('Report'))},
          responses: {200: {description: 'Stored', ...json({type: 'object'})}, 400: error, 401: error, 403: error},
        },
      },
      '/tokens': {
        post: {
          summary: 'A new token (admin); printed once, only its hash is kept',
          requestBody: {required: true, ...json({type: 'object', required: ['role'], properties: {role: {type: 'string', enum: ROLES}, note: {type: 'string'}}})},
          responses: {200: {description: 'The token', ...json({type: 'object', properties: {id: {type: 'string'}, token: {type: 'string'}, role: {type: 'string'}}})}, 400: error, 403: error},
        },
      },
      '/audit': {get: {summary: 'The whole audit log, newest first (reader or admin)', responses: {200: {description: 'The entries', ...json({type: 'object'})}}}},
    },
  };
}
