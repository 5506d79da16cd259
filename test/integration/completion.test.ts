// anemos completion bash|zsh, run by the real shells: the script the bundled CLI prints is
// sourced, the words a user typed are handed to its function as each shell's completion
// system does, and what it offers is what the user would see.

import {execFileSync} from 'node:child_process';
import {describe, expect, it} from 'vitest';
import {CLI} from '../helpers/kernel.js';

const script = (shell: string) => execFileSync(process.execPath, [CLI, 'completion', shell], {encoding: 'utf8'});

/** What the completion offers after "anemos" and `words` (the last one being typed). */
function offered(shell: 'bash' | 'zsh', words: string[]): string[] {
  const all = ['anemos', ...words];
  const quoted = all.map((w) => `'${w}'`).join(' ');
  // bash calls the function with COMP_WORDS and COMP_CWORD set; zsh's bashcompinit does the
  // same through its compgen -F (in sh emulation: 0-based arrays, words split).
  const call = shell === 'bash'
    ? `${script('bash')}\nCOMP_WORDS=(${quoted}); COMP_CWORD=${all.length - 1}; _anemos_complete; printf '%s\\n' "\${COMPREPLY[@]}"`
    : `${script('zsh')}\nCOMP_WORDS=(${quoted}); COMP_CWORD=${all.length - 1}; compgen -F _anemos_complete -- '${all.at(-1)}'`;
  return execFileSync(shell, shell === 'zsh' ? ['-f', '-c', call] : ['--norc', '-c', call], {encoding: 'utf8', env: {...process.env, HOME: '/nonexistent'}}).split('\n').filter(Boolean);
}

describe.each(['bash', 'zsh'] as const)('completion under %s', (shell) => {
  it('completes commands, topics and subcommands', () => {
    expect(offered(shell, ['de'])).toEqual(['deploy']);
    expect(offered(shell, ['machines', ''])).toEqual(['explain', 'list', 'retire', 'set', 'show', 'wake', 'watch']);
    expect(offered(shell, ['serve', 't'])).toEqual(['token']);
    expect(offered(shell, [''])).toEqual(expect.arrayContaining(['deploy', 'test-boot', 'completion', 'help', 'version']));
  });

  it("completes a command's own flags, after its arguments too; a flag's value is left to file names", () => {
    expect(offered(shell, ['deploy', '--dry'])).toEqual(['--dry-run']);
    expect(offered(shell, ['machines', 'watch', 'web1', '--time'])).toEqual(['--timeout']);
    expect(offered(shell, ['deploy', '--config', ''])).toEqual([]);
    expect(offered(shell, ['payload', 'check', '--'])).toEqual(['--debug', '--help', '--json']);
  });
});
