import {Args} from '@oclif/core';
import {completionScript, SHELLS, type Shell} from '../core/completion.js';
import {BaseCommand} from './base.js';

export default class Completion extends BaseCommand {
  static summary = 'Print the shell completion script for bash or zsh.';
  static description = 'Generated from the commands and flags of this anemos: command words, then each command\'s flags; a flag\'s value and arguments complete to file names.';
  static examples = ['source <(<%= config.bin %> completion bash)', '<%= config.bin %> completion bash > /etc/bash_completion.d/anemos', 'echo \'source <(anemos completion zsh)\' >> ~/.zshrc'];
  static args = {shell: Args.string({required: true, options: [...SHELLS], description: 'bash or zsh'})};

  async run(): Promise<void> {
    const {args} = await this.parse(Completion);
    const commands = this.config.commands
      .filter((c) => !c.hidden)
      .map((c) => {
        const flags = Object.values(c.flags ?? {}).filter((f) => !f.hidden);
        return {id: c.id, flags: flags.map((f) => f.name), valued: flags.filter((f) => f.type === 'option').map((f) => f.name)};
      });
    this.out(completionScript(args.shell as Shell, commands, this.config.bin));
  }
}
