import {Flags} from '@oclif/core';
import {TOKEN_KINDS, type TokenKind} from '../../../core/registry/lifecycle.js';
import {renderTokens} from '../../../services/registry/client-render.js';
import {listRegistryTokens} from '../../../services/registry/serve.js';
import {BaseCommand} from '../../base.js';
import {registryDbFlags} from '../index.js';

export default class TokenList extends BaseCommand {
  static summary = "List the registry's tokens on its own machine (never their secrets).";
  static examples = ['<%= config.bin %> serve token list --live'];
  static enableJsonFlag = true;
  static flags = {...registryDbFlags, kind: Flags.string({options: [...TOKEN_KINDS], description: 'Only tokens of this kind.'}), live: Flags.boolean({description: 'Only tokens that still work.'})};

  async run(): Promise<unknown> {
    const {flags} = await this.parse(TokenList);
    const page = await listRegistryTokens({data: flags.data, database: flags.database, kind: flags.kind as TokenKind | undefined, live: flags.live});
    if (!this.jsonEnabled()) for (const l of renderTokens(page.items)) this.out(l);
    return {tokens: page.items};
  }
}
