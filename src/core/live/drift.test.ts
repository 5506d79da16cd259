import {execFileSync} from 'node:child_process';
import {mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';
import {DRIFT_SCRIPT, LIVE_RUN_DIR, parseDrift, renderDrift} from './drift.js';

describe('drift on a live host', () => {
  it('classes the upper entries against the lower layers', () => {
    const out = ['d\t4096\t1\t0\tetc', 'f\t13\t0\t0\tetc/live-marker', 'f\t1446\t1\t0\tetc/nginx/nginx.conf', 'c\t0\t1\t1\tetc/issue', 'd\t4096\t0\t0\topt/app', 'f\t10\t0\t0\topt/app/a', 'f\t20\t0\t0\topt/app/b', 'l\t9\t1\t0\tetc/localtime', 'garbage line', ''].join('\n');
    const entries = parseDrift(out);
    expect(entries).toEqual([
      {path: '/etc/issue', kind: 'removed', type: 'other', size: 0},
      {path: '/etc/live-marker', kind: 'added', type: 'file', size: 13},
      {path: '/etc/localtime', kind: 'changed', type: 'link', size: 9},
      {path: '/etc/nginx/nginx.conf', kind: 'changed', type: 'file', size: 1446},
      {path: '/opt/app', kind: 'added', type: 'dir', size: 0},
      {path: '/opt/app/a', kind: 'added', type: 'file', size: 10},
      {path: '/opt/app/b', kind: 'added', type: 'file', size: 20},
    ]);
    expect(renderDrift(entries)).toEqual([
      '- /etc/issue',
      '+ /etc/live-marker  13 bytes',
      '~ /etc/localtime  9 bytes',
      '~ /etc/nginx/nginx.conf  1446 bytes',
      '+ /opt/app/  30 bytes in 3 entries',
      '4 added, 2 changed, 1 removed; 1498 bytes written since boot (gone at the next reboot).',
    ]);
    expect(renderDrift([])).toEqual(["No drift: the system is the image it booted (with this host's own layer)."]);
  });

  it('the script, run on a tree laid out as the live mode lays it (as root: a whiteout is a device node)', {skip: process.getuid?.() !== 0}, () => {
    const root = mkdtempSync(join(tmpdir(), 'anemos-drift-'));
    try {
      const live = join(root, LIVE_RUN_DIR);
      const at = (p: string, text = 'x') => {
        mkdirSync(join(p, '..'), {recursive: true});
        writeFileSync(p, text);
      };
      at(join(live, 'layers/00-base/etc/issue'));
      at(join(live, 'layers/00-base/etc/nginx/nginx.conf'));
      at(join(live, 'layers/01-web/usr/share/web/page'));
      at(join(live, 'host/upper/etc/hostname'));
      at(join(live, 'rw/upper/etc/nginx/nginx.conf'), 'changed!');
      at(join(live, 'rw/upper/etc/hostname'), 'renamed');
      at(join(live, 'rw/upper/etc/with space'), 'added');
      at(join(live, 'rw/upper/usr/share/web/page'), 'changed');
      symlinkSync('/nowhere', join(live, 'rw/upper/etc/new-link'));
      execFileSync('mknod', [join(live, 'rw/upper/etc/issue'), 'c', '0', '0']);
      // /etc/app removed and made again (opaque in the upper): a and b of the image are gone, c is new, d is made again.
      // The running system (here a copy: the script reads it at $root) shows c and d only.
      const running = join(root, 'running');
      for (const f of ['a', 'b', 'd']) at(join(live, `layers/00-base/etc/app/${f}`));
      for (const f of ['a', 'b', 'd']) at(join(live, `image/etc/app/${f}`));
      at(join(live, 'image/etc/issue'));
      // Untouched: in the image and shown, not in the upper.
      at(join(live, 'image/etc/hosts'));
      at(join(running, 'etc/hosts'));
      for (const f of ['c', 'd']) at(join(live, `rw/upper/etc/app/${f}`), 'new');
      for (const f of ['c', 'd']) at(join(running, `etc/app/${f}`), 'new');
      const script = DRIFT_SCRIPT.replace(`live=${LIVE_RUN_DIR}`, `live=${live}`).replace('\nroot=\n', `\nroot=${running}\n`);
      const out = execFileSync('sh', ['-c', script], {encoding: 'utf8'});
      expect(parseDrift(out).map((e) => `${e.kind} ${e.path} ${e.size}`)).toEqual([
        'removed /etc/app/a 0',
        'removed /etc/app/b 0',
        'added /etc/app/c 3',
        'changed /etc/app/d 3',
        'changed /etc/hostname 7',
        'removed /etc/issue 0',
        'added /etc/new-link 8',
        'changed /etc/nginx/nginx.conf 8',
        'added /etc/with space 5',
        'changed /usr/share/web/page 7',
      ]);
      // Not a live system: exit 3, said plainly.
      expect(() => execFileSync('sh', ['-c', DRIFT_SCRIPT.replace(`live=${LIVE_RUN_DIR}`, `live=${root}/none`)], {stdio: 'pipe'})).toThrow(/was not booted live by anemos/);
    } finally {
      rmSync(root, {recursive: true, force: true});
    }
  });
});
