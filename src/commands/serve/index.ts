import {Flags} from '@oclif/core';
import {serveRegistry} from '../../services/registry/serve.js';
import {BaseCommand} from '../base.js';

export const registryDbFlags = {
  data: Flags.string({description: 'Directory of the embedded database (default /var/lib/anemos/registry as root, ~/.local/share/anemos/registry otherwise).', env: 'ANEMOS_REGISTRY_DATA', exclusive: ['database']}),
  database: Flags.string({description: 'A PostgreSQL server instead: postgres://USER:PASSWORD@HOST:PORT/DB (the same schema, migrated at start).', env: 'ANEMOS_DATABASE'}),
};

export default class Serve extends BaseCommand {
  static summary = 'Run the machine registry: the API (/api/v1), the web UI and the agents\' reports, in one process.';
  static description =
    'Machines are recorded from the reports of deploy environments (config key report:) with their hardware inventory, lifecycle state, deployments and events; every change goes to an append-only audit log. Every request needs a token: make the first with "anemos serve token create --role admin". The API is described at /api/v1/openapi.json.';
  static examples = ['<%= config.bin %> serve --listen 0.0.0.0:8080', '<%= config.bin %> serve --database postgres://anemos:secret@db.example.net/anemos'];
  static flags = {
    ...registryDbFlags,
    listen: Flags.string({description: 'ADDRESS:PORT to listen on.', default: '127.0.0.1:8080', env: 'ANEMOS_LISTEN'}),
    quiet: Flags.boolean({description: 'Do not print a line per request.'}),
  };

  async run(): Promise<void> {
    const {flags} = await this.parse(Serve);
    const running = await serveRegistry({data: flags.data, database: flags.database, listen: flags.listen, version: this.config.version, log: flags.quiet ? undefined : (l) => this.progress(l)});
    this.out(`anemos registry: ${running.url} (${running.kind === 'embedded' ? 'embedded database in' : 'PostgreSQL at'} ${running.where}); the API at ${running.url}/api/v1, its description at ${running.url}/api/v1/openapi.json`);
    await new Promise<void>((resolve) => {
      const stop = () => void running.close().then(resolve);
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  }
}
