// JSON Merge Patch (RFC 7396): how PATCH changes part of a record. A member set to null is
// removed, an object is merged member by member, anything else (arrays too) replaces.

export type Json = null | boolean | number | string | Json[] | {[k: string]: Json};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: Record<string, unknown> = isObject(target) ? {...target} : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The merge patch that turns `from` into `to` (what a form that holds the whole object sends). */
export function diffMergePatch(from: unknown, to: unknown): unknown {
  if (!isObject(from) || !isObject(to)) return to;
  const patch: Record<string, unknown> = {};
  for (const k of Object.keys(from)) if (!(k in to)) patch[k] = null;
  for (const [k, v] of Object.entries(to)) {
    if (!(k in from)) patch[k] = v;
    else if (!same(from[k], v)) patch[k] = isObject(from[k]) && isObject(v) ? diffMergePatch(from[k], v) : v;
  }
  return patch;
}
