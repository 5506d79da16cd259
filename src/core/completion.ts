// Shell completion generated from the command manifest (anemos completion bash|zsh): the
// words after "anemos" complete to the next topic or command word, and once a command is
// named, to its flags. zsh runs the same function through bashcompinit.

export interface CompletionCommand {
  /** oclif id, "machines:watch". */
  id: string;
  /** Long flag names, without "--". */
  flags: string[];
  /** Those of them that take a value (--config FILE). */
  valued: string[];
}

export const SHELLS = ['bash', 'zsh'] as const;
export type Shell = (typeof SHELLS)[number];

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function completionScript(shell: Shell, commands: CompletionCommand[], bin = 'anemos'): string {
  // Every path of words typed so far ("" for none) → the words and flags that may follow it.
  const next = new Map<string, Set<string>>();
  const add = (path: string, word: string) => next.set(path, (next.get(path) ?? new Set()).add(word));
  for (const c of commands) {
    const words = c.id.split(':');
    words.forEach((w, i) => add(words.slice(0, i).join(' '), w));
    for (const f of [...c.flags, 'help']) add(words.join(' '), `--${f}`);
  }
  add('', '--help');
  add('', '--version');
  add('', 'help');
  add('', 'version');
  const valued = [...new Set(commands.flatMap((c) => c.valued.map((f) => `--${f}`)))].sort();
  const fn = `_${bin.replace(/[^A-Za-z0-9_]/g, '_')}_complete`;
  const cases = [...next.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([path, words]) => `    ${quote(path)}) opts=${quote([...words].sort().join(' '))}; break ;;`);
  const body = [
    `# ${bin} completion for ${shell}, generated from its commands: ${shell === 'bash' ? `source <(${bin} completion bash), or save it under /etc/bash_completion.d/` : `source <(${bin} completion zsh) in ~/.zshrc`}.`,
    ...(shell === 'zsh' ? ['autoload -U +X compinit && compinit', 'autoload -U +X bashcompinit && bashcompinit'] : []),
    `${fn}() {`,
    '  local cur="${COMP_WORDS[COMP_CWORD]}" cmdpath="" w opts=""',
    '  # The value of a flag that takes one: file names (-o default).',
    `  case "\${COMP_WORDS[COMP_CWORD-1]}" in ${valued.length ? `${valued.join('|')}) return ;;` : ''} esac`,
    '  # The command is the words before the first flag ("anemos machines watch web1 --timeout" → "machines watch").',
    '  local i=1',
    '  while [ "$i" -lt "$COMP_CWORD" ]; do',
    '    w="${COMP_WORDS[i]}"',
    '    case "$w" in -*) break ;; esac',
    '    cmdpath="${cmdpath:+$cmdpath }$w"',
    '    i=$((i + 1))',
    '  done',
    '  # Words after the command (a machine name, a file) are dropped until a command or topic matches;',
    '  # nothing offered then falls back to file names (-o default).',
    '  while :; do',
    '    case "$cmdpath" in',
    ...cases,
    '    esac',
    '    case "$cmdpath" in *" "*) cmdpath="${cmdpath% *}" ;; *) cmdpath="" ;; esac',
    '  done',
    '  # Filtered here rather than by compgen -W, which zsh\'s bashcompinit does not filter.',
    '  COMPREPLY=()',
    '  eval "set -- $opts"',
    '  for w in "$@"; do case "$w" in "$cur"*) COMPREPLY+=("$w") ;; esac; done',
    '}',
    `complete -o default -F ${fn} ${bin}`,
    '',
  ];
  return body.join('\n');
}
