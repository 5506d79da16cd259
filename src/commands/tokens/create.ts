import {connectRegistry, createToken} from '../../services/registry/client.js';
import {BaseCommand} from '../base.js';
import {registryFlags, registryFlagValues} from '../registry-flags.js';
import {parseExpiry, tokenCreateFlags} from '../token-flags.js';

export default class TokensCreate extends BaseCommand {
  static summary = 'Make a token through the registry (admin) and print it once; only its hash is kept.';
  static examples = ['<%= config.bin %> tokens create --role operator --note "ci pipeline" --expires 90d', '<%= config.bin %> tokens create --role enroll --uses 20 --expires 7d --note "rack 3 install day"'];
  static enableJsonFlag = true;
  static flags = {...registryFlags, ...tokenCreateFlags};

  async run(): Promise<unknown> {
    const {flags} = await this.parse(TokensCreate);
    const expiresInSeconds = parseExpiry(flags.expires);
    const t = await createToken(connectRegistry(registryFlagValues(flags)), {role: flags.role, ...(flags.note ? {note: flags.note} : {}), ...(expiresInSeconds ? {expiresInSeconds} : {}), ...(flags.uses ? {uses: flags.uses} : {})});
    if (!this.jsonEnabled()) this.out(t.token);
    return t;
  }
}
