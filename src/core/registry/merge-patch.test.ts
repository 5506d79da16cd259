import {describe, expect, it} from 'vitest';
import {applyMergePatch, diffMergePatch} from './merge-patch.js';

describe('JSON Merge Patch', () => {
  // The examples of RFC 7396, appendix A.
  it.each([
    [{a: 'b'}, {a: 'c'}, {a: 'c'}],
    [{a: 'b'}, {b: 'c'}, {a: 'b', b: 'c'}],
    [{a: 'b'}, {a: null}, {}],
    [{a: 'b', b: 'c'}, {a: null}, {b: 'c'}],
    [{a: ['b']}, {a: 'c'}, {a: 'c'}],
    [{a: 'c'}, {a: ['b']}, {a: ['b']}],
    [{a: {b: 'c'}}, {a: {b: 'd', c: null}}, {a: {b: 'd'}}],
    [{a: [{b: 'c'}]}, {a: [1]}, {a: [1]}],
    [['a', 'b'], ['c', 'd'], ['c', 'd']],
    [{a: 'b'}, ['c'], ['c']],
    [{a: 'foo'}, null, null],
    [{a: 'foo'}, 'bar', 'bar'],
    [{e: null}, {a: 1}, {e: null, a: 1}],
    [[1, 2], {a: 'b', c: null}, {a: 'b'}],
    [{}, {a: {bb: {ccc: null}}}, {a: {bb: {}}}],
  ])('%j patched with %j is %j', (target, patch, result) => {
    expect(applyMergePatch(target, patch)).toEqual(result);
  });

  it('makes the patch that turns one object into another, which applied gives it', () => {
    const from = {rack: 'r3', owner: {team: 'web', pager: 'x'}, gone: 1, list: [1, 2]};
    const to = {rack: 'r4', owner: {team: 'web'}, list: [1, 2], added: {a: null}};
    const patch = diffMergePatch(from, to);
    expect(patch).toEqual({gone: null, rack: 'r4', owner: {pager: null}, added: {a: null}});
    expect(applyMergePatch(from, patch)).toEqual({rack: 'r4', owner: {team: 'web'}, list: [1, 2], added: {}});
  });

  it('leaves the target as it was', () => {
    const target = {desired: {payload: {url: 'a', sha256: 'b'}}};
    applyMergePatch(target, {desired: {payload: null}});
    expect(target).toEqual({desired: {payload: {url: 'a', sha256: 'b'}}});
  });
});
