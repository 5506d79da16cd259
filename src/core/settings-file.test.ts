import {describe, expect, it} from 'vitest';
import {settingsArgs, type FlagSpec} from './settings-file.js';

const FLAGS: Record<string, FlagSpec> = {
  listen: {type: 'option', env: 'ANEMOS_LISTEN'},
  boot: {type: 'boolean', env: 'ANEMOS_BOOT'},
  'boot-interface': {type: 'option', env: 'ANEMOS_BOOT_INTERFACE'},
  'boot-http-port': {type: 'option'},
  'tls-name': {type: 'option', multiple: true},
  discover: {type: 'boolean'},
};

describe('settings in a file', () => {
  it('become flags where neither the command line nor the environment says otherwise (flag > environment > file)', () => {
    const file = {listen: '0.0.0.0:8443', boot: true, 'boot-interface': 'eth1', 'boot-http-port': 8067, 'tls-name': ['reg.example.net', 'reg'], discover: false};
    expect(settingsArgs(file, FLAGS, [], {})).toEqual({args: ['--listen=0.0.0.0:8443', '--boot', '--boot-interface=eth1', '--boot-http-port=8067', '--tls-name=reg.example.net', '--tls-name=reg'], problems: []});
    const out = settingsArgs(file, FLAGS, ['--listen', '127.0.0.1:9000', '--boot-interface=eth2'], {ANEMOS_BOOT: 'false'});
    expect(out.args).toEqual(['--boot-http-port=8067', '--tls-name=reg.example.net', '--tls-name=reg']);
  });

  it('names every key it cannot take, with what it takes', () => {
    const out = settingsArgs({lisen: 'x', boot: 'yes', listen: {a: 1}, 'tls-name': [{}]}, FLAGS, [], {});
    expect(out.problems).toEqual([
      {key: 'lisen', message: expect.stringContaining('is not a setting of this command (the settings are its long flags: boot, boot-http-port, boot-interface, discover, listen, tls-name)')},
      {key: 'boot', message: 'must be true or false'},
      {key: 'listen', message: 'must be a string or a number'},
      {key: 'tls-name', message: 'must be a string, a number or a list of them'},
    ]);
    expect(settingsArgs(['listen'], FLAGS, [], {}).problems).toEqual([{key: '(file)', message: expect.stringContaining('is not a mapping')}]);
    expect(settingsArgs(null, FLAGS, [], {})).toEqual({args: [], problems: []});
  });
});
