// What goes over the wire to the host (the remote shell line) and how ssh's failures are told apart.

import {describe, expect, it} from 'vitest';
import {connectionError, parseDestination, remoteLine, sshArgv} from './ssh-destination.js';

const d = (user = 'root') => ({user, host: '203.0.113.5', port: 2222, options: ['UserKnownHostsFile=/ci/known_hosts']});

describe('ssh host', () => {
  it('reads [USER@]HOST, root by default, IPv6 in brackets; refuses anything else', () => {
    expect(parseDestination('web1.example.org')).toEqual({user: 'root', host: 'web1.example.org'});
    expect(parseDestination('debian@203.0.113.5')).toEqual({user: 'debian', host: '203.0.113.5'});
    expect(parseDestination('admin@[2001:db8::5]')).toEqual({user: 'admin', host: '2001:db8::5'});
    for (const bad of ['', 'a b', 'root@', 'x@y@z', 'host/path']) expect(() => parseDestination(bad), bad).toThrow(/is not a host/);
  });

  it('keeps host key checking as configured: no StrictHostKeyChecking=no, the user\'s options first, no prompts', () => {
    const argv = sshArgv(d());
    expect(argv.join(' ')).not.toMatch(/StrictHostKeyChecking=no/);
    expect(argv).toEqual(['-p', '2222', '-o', 'UserKnownHostsFile=/ci/known_hosts', '-o', 'BatchMode=yes', '--', 'root@203.0.113.5']);
  });

  it('quotes every argument for the remote shell, and runs through sudo -n for a user other than root', () => {
    expect(remoteLine(d(), 'sh', ['-c', 'cat > "$1"', 'sh', "/boot/it's"])).toBe(
      "env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin sh -c 'cat > \"$1\"' sh '/boot/it'\\''s'",
    );
    expect(remoteLine(d('debian'), 'id', ['-u'])).toMatch(/^sudo -n -- env PATH=\S+ id -u$/);
  });

  it('tells the connection failures apart, each with its fix; a command\'s own failure is not one', () => {
    const code = (stderr: string) => connectionError(d(), stderr)?.code;
    expect(code('@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nHost key verification failed.')).toBe('ssh-host-key');
    expect(code('No ED25519 host key is known for [203.0.113.5]:2222 and you have requested strict checking.\nHost key verification failed.')).toBe('ssh-host-key');
    expect(code('ssh: Could not resolve hostname nope: Name or service not known')).toBe('ssh-unknown-host');
    expect(code('ssh: connect to host 203.0.113.5 port 2222: Connection refused')).toBe('ssh-refused');
    expect(code('ssh: connect to host 203.0.113.5 port 2222: Connection timed out')).toBe('ssh-unreachable');
    expect(code('root@203.0.113.5: Permission denied (publickey).')).toBe('ssh-permission');
    expect(code('kexec_load failed: Operation not permitted')).toBeUndefined();
    const key = connectionError(d(), 'Host key verification failed.', 'ED25519 SHA256:abc');
    expect(key?.exitCode).toBe(8);
    expect(key?.message).toContain('It presents: ED25519 SHA256:abc');
    expect(key?.hint).toContain("ssh-keygen -R '[203.0.113.5]:2222'");
  });
});
