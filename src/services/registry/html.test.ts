import {describe, expect, it} from 'vitest';
import {html, rawHtml} from './html.js';

describe('html``', () => {
  it('escapes every value, in text and in attributes, unless it is html`` itself', () => {
    const name = '<script>alert(1)</script>';
    const attr = '" onmouseover="alert(1)';
    expect(String(html`<p title="${attr}">${name}</p>`)).toBe('<p title="&quot; onmouseover=&quot;alert(1)">&lt;script&gt;alert(1)&lt;/script&gt;</p>');
    expect(String(html`<ul>${['<a>', html`<li>${"'"}</li>`]}</ul>`)).toBe('<ul>&lt;a&gt;<li>&#39;</li></ul>');
    expect(String(html`${null}${undefined}${false}${0}`)).toBe('0');
    expect(String(html`${rawHtml('<b>ours</b>')}`)).toBe('<b>ours</b>');
  });
});
