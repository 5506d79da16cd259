// The API's description, served at /api/v1/openapi.json and kept in schema/openapi.json:
// generated from the route table the server dispatches from (api.ts), so every path,
// method, permission, parameter and body schema it states is the one the server applies.

import {ROLES} from '../../core/registry/lifecycle.js';
import {API_SCHEMAS, PATH_PARAMS, ROUTES, type ApiRoute} from './api.js';

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad request: the problems, each with its path',
  401: 'No token, or one that is unknown, revoked, expired or used up (WWW-Authenticate says which)',
  403: 'The token may not do this, or speaks for another machine',
  404: 'No such record',
  409: 'Refused by the rules: a lifecycle transition (allowed lists the ones that are), an identity bound to another machine, a record that exists',
  413: 'The body is too large',
  415: 'The body is not JSON (Content-Type)',
  503: 'The database does not answer',
};

const WHO: Record<string, string> = {public: 'no token', any: 'any valid token'};

function operation(r: ApiRoute): Record<string, unknown> {
  const pathParams = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({name: m[1], in: 'path', required: true, schema: {type: 'string'}, description: PATH_PARAMS[m[1]!]?.description}));
  const queryParams = Object.entries(r.query ?? {}).map(([name, p]) => ({name, in: 'query', required: false, schema: p.schema, description: p.description}));
  const who = WHO[r.permission] ?? `permission "${r.permission}"${r.self ? ", or the machine's own credential for its own record" : ''}`;
  return {
    summary: r.summary,
    description: `${r.description ? `${r.description} ` : ''}Who: ${who}.`,
    operationId: `${r.method.toLowerCase()}${r.path.replace(/\{(\w+)\}/g, (_m, p: string) => `By${p[0]!.toUpperCase()}${p.slice(1)}`).replace(/[^A-Za-z0-9]+(.)?/g, (_m, c?: string) => (c ? c.toUpperCase() : ''))}`,
    'x-permission': r.permission,
    ...(r.self ? {'x-self': true} : {}),
    security: r.permission === 'public' ? [] : [{token: []}],
    ...(pathParams.length || queryParams.length ? {parameters: [...pathParams, ...queryParams]} : {}),
    ...(r.body ? {requestBody: {required: true, content: {[r.body.mergePatch ? 'application/merge-patch+json' : 'application/json']: {schema: {$ref: `#/components/schemas/${r.body.name}`}}, ...(r.body.mergePatch ? {'application/json': {schema: {$ref: `#/components/schemas/${r.body.name}`}}} : {})}}} : {}),
    responses: {
      200: {description: r.response.description, content: {[r.response.contentType ?? 'application/json']: {schema: r.response.schema}}},
      ...Object.fromEntries(r.errors.map((s) => [s, {description: STATUS_TEXT[s] ?? String(s), content: {'application/json': {schema: {$ref: '#/components/schemas/Error'}}}}])),
    },
  };
}

export function openApi(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of ROUTES) (paths[r.path] ??= {})[r.method.toLowerCase()] = operation(r);
  const bodies = Object.fromEntries(ROUTES.filter((r) => r.body).map((r) => [r.body!.name, r.body!.schema]));
  return {
    openapi: '3.1.0',
    info: {
      title: 'anemos registry',
      version,
      description:
        'Machines, their hardware, lifecycle and deployments. Every request but /healthz, /readyz and this document needs `Authorization: Bearer <token>`. Errors are `{"error": {"code", "message", "hint"}}`. Lists come a page at a time: pass `next` back as `cursor`.',
    },
    servers: [{url: '/'}],
    components: {
      securitySchemes: {
        token: {
          type: 'http',
          scheme: 'bearer',
          description: `Roles a person gives a token: ${ROLES.join(', ')} (admin: everything; operator: machines and deployments; reader: read only; enroll: register new machines). The registry mints two more, each bound to one record: a machine's credential (from enrollment) and a deployment's token (from recording a deployment), which report for that machine and deployment only.`,
        },
      },
      schemas: {...API_SCHEMAS, ...bodies},
    },
    paths,
  };
}
