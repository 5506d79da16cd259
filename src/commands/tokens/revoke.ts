import {Args} from '@oclif/core';
import {connectRegistry, revokeToken} from '../../services/registry/client.js';
import {BaseCommand} from '../base.js';
import {registryFlags, registryFlagValues} from '../registry-flags.js';

export default class TokensRevoke extends BaseCommand {
  static summary = 'Revoke a token (admin): it stops working at once; the audit log keeps who did it.';
  static examples = ['<%= config.bin %> tokens revoke 1a2b3c4d'];
  static enableJsonFlag = true;
  static args = {id: Args.string({required: true, description: 'The token\'s id (anemos tokens list; the 8 hex digits after anm_).'})};
  static flags = {...registryFlags};

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(TokensRevoke);
    const token = await revokeToken(connectRegistry(registryFlagValues(flags)), args.id.replace(/^anm_([0-9a-f]{8})_.*$/, '$1'));
    if (!this.jsonEnabled()) this.out(`Token ${token.id} (${token.kind}${token.note ? `, ${token.note}` : ''}) is revoked.`);
    return {token};
  }
}
