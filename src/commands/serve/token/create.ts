import {Flags} from '@oclif/core';
import {ROLES, type Role} from '../../../core/registry/lifecycle.js';
import {createRegistryToken} from '../../../services/registry/serve.js';
import {BaseCommand} from '../../base.js';
import {registryDbFlags} from '../index.js';

export default class TokenCreate extends BaseCommand {
  static summary = 'Make a token for the registry and print it (only its hash is kept).';
  static description = 'admin: everything; reporter: what deploy environments need (post reports, read their desired deployment by MAC); reader: read only.';
  static examples = ['<%= config.bin %> serve token create --role admin', '<%= config.bin %> serve token create --role reporter --note "rack 3 agents"'];
  static enableJsonFlag = true;
  static flags = {
    ...registryDbFlags,
    role: Flags.string({options: [...ROLES], required: true, description: 'What the token may do.'}),
    note: Flags.string({description: 'What it is for (kept in the audit log).'}),
  };

  async run(): Promise<unknown> {
    const {flags} = await this.parse(TokenCreate);
    const t = await createRegistryToken({data: flags.data, database: flags.database, role: flags.role as Role, note: flags.note});
    if (!this.jsonEnabled()) this.out(t.token);
    return t;
  }
}
