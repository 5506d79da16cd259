import {Flags} from '@oclif/core';
import {TOKEN_KINDS} from '../../core/registry/lifecycle.js';
import {renderTokens} from '../../services/registry/client-render.js';
import {connectRegistry, listTokens} from '../../services/registry/client.js';
import {BaseCommand} from '../base.js';
import {registryFlags, registryFlagValues} from '../registry-flags.js';

export default class TokensList extends BaseCommand {
  static summary = "List the registry's tokens (admin): kind, note, what each is bound to, expiry, uses left, revoked or live. Never their secrets.";
  static examples = ['<%= config.bin %> tokens list --live', '<%= config.bin %> tokens list --kind machine --json'];
  static enableJsonFlag = true;
  static flags = {...registryFlags, kind: Flags.string({options: [...TOKEN_KINDS], description: 'Only tokens of this kind.'}), live: Flags.boolean({description: 'Only tokens that still work.'})};

  async run(): Promise<unknown> {
    const {flags} = await this.parse(TokensList);
    const tokens = await listTokens(connectRegistry(registryFlagValues(flags)), {kind: flags.kind, live: flags.live});
    if (!this.jsonEnabled()) for (const l of renderTokens(tokens)) this.out(l);
    return {tokens};
  }
}
