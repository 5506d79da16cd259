import {createRegistryToken} from '../../../services/registry/serve.js';
import type {Role} from '../../../core/registry/lifecycle.js';
import {BaseCommand} from '../../base.js';
import {parseExpiry, tokenCreateFlags} from '../../token-flags.js';
import {registryDbFlags} from '../index.js';

export default class TokenCreate extends BaseCommand {
  static summary = "Make a token on the registry's own machine (its database directly) and print it once; only its hash is kept.";
  static description = 'The first admin token is made this way. With anemos serve running on the embedded database, use anemos tokens create (over its API) instead.';
  static examples = ['<%= config.bin %> serve token create --role admin --note "alice"', '<%= config.bin %> serve token create --role enroll --uses 10 --expires 1d'];
  static enableJsonFlag = true;
  static flags = {...registryDbFlags, ...tokenCreateFlags};

  async run(): Promise<unknown> {
    const {flags} = await this.parse(TokenCreate);
    const seconds = parseExpiry(flags.expires);
    const t = await createRegistryToken({data: flags.data, database: flags.database, role: flags.role as Role, note: flags.note, ...(seconds ? {expiresAt: new Date(Date.now() + seconds * 1000)} : {}), ...(flags.uses ? {uses: flags.uses} : {})});
    if (!this.jsonEnabled()) this.out(t.token);
    return t;
  }
}
