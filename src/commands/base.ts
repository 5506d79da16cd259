// The one place CLI errors are reported: message, hint, exit code; --json gets
// {error: {code, message, hint}}; --debug adds stack and causes, and every command run.

import {Command, Flags} from '@oclif/core';
import {AnemosError, exitCodeOf, formatError} from '../shared/errors.js';

export abstract class BaseCommand extends Command {
  static baseFlags = {
    debug: Flags.boolean({description: 'Show stack traces, causes and the exact commands run.', env: 'ANEMOS_DEBUG'}),
  };

  /** Commands that print data set this to support --json. */
  static enableJsonFlag = false;

  async init(): Promise<void> {
    await super.init();
    // The Runner prints each command it starts as a line to paste (adapters/process.ts reads it).
    if (this.debugEnabled()) process.env.ANEMOS_DEBUG = '1';
  }

  protected debugEnabled(): boolean {
    return this.argv.includes('--debug') || process.env.ANEMOS_DEBUG === '1' || process.env.ANEMOS_DEBUG === 'true';
  }

  protected out(text: string): void {
    process.stdout.write(text.endsWith('\n') ? text : text + '\n');
  }

  protected progress(text: string): void {
    process.stderr.write(text.endsWith('\n') ? text : text + '\n');
  }

  protected async catch(err: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<never> {
    // oclif's own parse errors (unknown flag, missing argument) are usage errors.
    if (!(err instanceof AnemosError) && err.oclif?.exit !== undefined && err.oclif.exit !== 0) {
      err = new AnemosError('usage', 'usage', usageMessage(err.message), {hint: `Run "anemos ${this.id?.replace(/:/g, ' ') ?? ''} --help".`});
    }
    if (!(err instanceof AnemosError) && err.oclif?.exit === 0) throw err;
    if (this.jsonEnabled()) {
      // One line: after the JSON lines of a followed deploy (--host --json) it is the last one.
      process.stdout.write(JSON.stringify({error: err instanceof AnemosError ? {...err.toJSON(), exitCode: err.exitCode} : {code: 'bug', message: err.message}}) + '\n');
    } else {
      process.stderr.write(formatError(err, this.debugEnabled()) + '\n');
    }
    process.exitCode = exitCodeOf(err);
    this.exit(exitCodeOf(err));
  }
}

/** oclif's parse errors in our words: a flag that needs another says which and why, one problem per line. */
export function usageMessage(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^The following errors? occurred:$/.test(l) && !/^See more help with --help$/.test(l))
    .map((l) => {
      const all = /^All of the following must be provided when using (--\S+): (.+)$/.exec(l);
      if (all) return `${all[1]} only applies with ${all[2].split(', ').join(' and ')}; without it, it would be ignored. Add ${all[2]} or drop ${all[1]}.`;
      const some = /^One of the following must be provided when using (--\S+): (.+)$/.exec(l);
      if (some) return `${some[1]} only applies with ${some[2].split(', ').join(' or ')}; without one of them, it would be ignored.`;
      return l;
    });
  return lines.join('\n');
}
