import {Args} from '@oclif/core';
import {revokeRegistryToken} from '../../../services/registry/serve.js';
import {BaseCommand} from '../../base.js';
import {registryDbFlags} from '../index.js';

export default class TokenRevoke extends BaseCommand {
  static summary = "Revoke a token on the registry's own machine: it stops working at once.";
  static examples = ['<%= config.bin %> serve token revoke 1a2b3c4d'];
  static enableJsonFlag = true;
  static args = {id: Args.string({required: true, description: 'The token\'s id (the 8 hex digits after anm_).'})};
  static flags = {...registryDbFlags};

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(TokenRevoke);
    const token = await revokeRegistryToken({data: flags.data, database: flags.database, id: args.id.replace(/^anm_([0-9a-f]{8})_.*$/, '$1')});
    if (!this.jsonEnabled()) this.out(`Token ${token.id} (${token.kind}${token.note ? `, ${token.note}` : ''}) is revoked.`);
    return {token};
  }
}
