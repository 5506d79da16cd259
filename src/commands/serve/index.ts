import {Flags} from '@oclif/core';
import {parseTlsFlags, serveRegistry} from '../../services/registry/serve.js';
import {BaseCommand} from '../base.js';

export const registryDbFlags = {
  data: Flags.string({description: 'Directory of the embedded database (default /var/lib/anemos/registry as root, ~/.local/share/anemos/registry otherwise), and of the --tls auto key and certificate; kept 0700, its files 0600. With --database it holds only the TLS files.', env: 'ANEMOS_REGISTRY_DATA'}),
  database: Flags.string({description: 'A PostgreSQL server instead: postgres://USER:PASSWORD@HOST:PORT/DB (the same schema, migrated at start).', env: 'ANEMOS_DATABASE'}),
};

export default class Serve extends BaseCommand {
  static summary = "Run the machine registry: the API (/api/v1), the web UI and the agents' reports, in one process.";
  static description =
    'Machines enroll with an enroll token and get credentials of their own; each deployment gets a token that reports for it alone; every change goes to an append-only audit log. Make the first admin token with "anemos serve token create --role admin". Serve over TLS (--tls auto makes a self-signed certificate in the data directory and prints the fingerprint clients pin). The API is described at /api/v1/openapi.json; /healthz and /readyz answer without a token.';
  static examples = ['<%= config.bin %> serve --listen 0.0.0.0:8443 --tls auto', '<%= config.bin %> serve --database postgres://anemos:secret@db.example.net/anemos --tls-cert /etc/anemos/registry.crt --tls-key /etc/anemos/registry.key'];
  static flags = {
    ...registryDbFlags,
    listen: Flags.string({description: 'ADDRESS:PORT to listen on.', default: '127.0.0.1:8080', env: 'ANEMOS_LISTEN'}),
    tls: Flags.string({description: '"auto": a self-signed certificate in the data directory (made once, kept); its fingerprint is printed for clients to pin.', env: 'ANEMOS_TLS'}),
    'tls-cert': Flags.string({description: 'PEM certificate (chain) to serve.', env: 'ANEMOS_TLS_CERT'}),
    'tls-key': Flags.string({description: 'PEM private key of --tls-cert.', env: 'ANEMOS_TLS_KEY'}),
    'tls-name': Flags.string({multiple: true, description: 'With --tls auto: another name or address the certificate is for (repeatable); this machine\'s name and addresses are in it already.'}),
    quiet: Flags.boolean({description: 'Do not print a line per request.'}),
  };

  async run(): Promise<void> {
    const {flags} = await this.parse(Serve);
    const tls = parseTlsFlags({tls: flags.tls, cert: flags['tls-cert'], key: flags['tls-key'], names: flags['tls-name']});
    const running = await serveRegistry({data: flags.data, database: flags.database, listen: flags.listen, version: this.config.version, tls, log: flags.quiet ? (l) => (l.startsWith('error') ? this.progress(l) : undefined) : (l) => this.progress(l)});
    this.out(`anemos registry: ${running.url} (${running.kind === 'embedded' ? 'embedded database in' : 'PostgreSQL at'} ${running.where}); the API at ${running.url}/api/v1, its description at ${running.url}/api/v1/openapi.json`);
    if (running.tls) {
      this.out(`TLS: certificate ${running.tls.made ? 'made now in' : 'from'} ${running.tls.source}`);
      this.out(`fingerprint: ${running.tls.pin}`);
      this.out('Pin it in each host\'s anemos.conf (report: fingerprint: …) and on workstations (--registry-fingerprint or ANEMOS_REGISTRY_FINGERPRINT).');
    } else if (!/^http:\/\/(127\.|\[::1\])/.test(running.url)) {
      this.progress('WARNING: plain HTTP on a network address: clients refuse it unless told --insecure-registry (report.insecure). Serve with --tls auto, or --tls-cert and --tls-key.');
    }
    await new Promise<void>((resolve) => {
      const stop = () => void running.close().then(resolve);
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  }
}
