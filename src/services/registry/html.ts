// HTML that is escaped by default (lit-html's and escape-html-template-tag's rule): every
// value put into an html`` template is escaped unless it is itself html`` (or rawHtml(),
// the one opt-out, for text this module's callers wrote themselves; grep for it).

export class SafeHtml {
  constructor(readonly html: string) {}
  toString(): string {
    return this.html;
  }
}

export const escapeHtml = (s: unknown): string => String(s ?? '').replace(/[&<>"']/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'})[c]!);

function render(v: unknown): string {
  if (v instanceof SafeHtml) return v.html;
  if (Array.isArray(v)) return v.map(render).join('');
  if (v === null || v === undefined || v === false) return '';
  return escapeHtml(v);
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0]!;
  values.forEach((v, i) => (out += render(v) + strings[i + 1]!));
  return new SafeHtml(out);
}

/** Markup written by this program, never by a peer: the explicit way past escaping. */
export const rawHtml = (trusted: string): SafeHtml => new SafeHtml(trusted);
