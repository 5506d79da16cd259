import {Flags} from '@oclif/core';
import {DEFAULT_SETTINGS, parseTlsFlags, serveRegistry, serveSettings, settingsFile} from '../../services/registry/serve.js';
import {BaseCommand} from '../base.js';
import {usageError} from '../../shared/errors.js';
import type {DhcpMode} from '../../services/netboot/boot-serve.js';
import type {Idle} from '../../core/netboot/boot-decision.js';

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
    settings: Flags.string({description: `A YAML file of these settings, by long flag name (listen: 0.0.0.0:8443, boot: true, boot-interface: eth1, ...): a flag or its environment variable wins over it. Default: ${DEFAULT_SETTINGS}, when it exists.`, env: 'ANEMOS_SERVE_SETTINGS'}),
    boot: Flags.boolean({description: 'Boot machines from the network too: proxyDHCP, TFTP of iPXE and HTTP on --boot-interface, deciding from each machine\'s record (docs/network-boot.md).', env: 'ANEMOS_BOOT'}),
    'boot-interface': Flags.string({description: 'The interface on the boot network; the boot services answer from its IPv4 address.', env: 'ANEMOS_BOOT_INTERFACE', dependsOn: ['boot']}),
    'boot-environment': Flags.string({description: 'The deploy environment machines boot: a directory made by "anemos initramfs build -o DIR" (vmlinuz, initramfs.cpio.zst, SHA256SUMS; checked at start).', env: 'ANEMOS_BOOT_ENVIRONMENT', dependsOn: ['boot']}),
    dhcp: Flags.string({options: ['proxy', 'full', 'off'], default: 'proxy', description: 'proxy: answer PXE and iPXE clients with boot information only, beside the site\'s DHCP (which gives the addresses); full: be the DHCP server of an isolated boot network, giving every client an address from --dhcp-range (and boot information to those it boots); off: no DHCP (the site\'s DHCP points at this server itself).', env: 'ANEMOS_DHCP'}),
    'dhcp-range': Flags.string({description: 'With --dhcp full: START-END, the addresses it gives (inside the boot interface\'s subnet, without its own address).', env: 'ANEMOS_DHCP_RANGE'}),
    'dhcp-lease': Flags.integer({description: 'With --dhcp full: seconds a lease lasts.', default: 3600, min: 60, max: 7 * 86400, env: 'ANEMOS_DHCP_LEASE'}),
    discover: Flags.boolean({description: 'Answer machines the registry does not know: they boot the deploy environment, report their hardware, appear as new (discovered), and wait for a deployment.', env: 'ANEMOS_DISCOVER', dependsOn: ['boot']}),
    'discover-idle': Flags.string({options: ['wait', 'poweroff'], default: 'wait', description: 'What a discovered machine does once registered, while it has nothing to deploy: wait in the deploy environment (SSH in, it asks every 10 s), or power off until "anemos machines wake" (a machine\'s own attribute idle: wait|poweroff wins).', env: 'ANEMOS_DISCOVER_IDLE'}),
    'boot-http-port': Flags.integer({description: 'Port of the boot listener (iPXE scripts, the deploy environment, agents\' reports) on the boot interface.', default: 8067, min: 1, max: 65535, env: 'ANEMOS_BOOT_HTTP_PORT'}),
    'ipxe-dir': Flags.string({description: 'Where undionly.kpxe and snponly.efi are (Debian\'s ipxe package).', default: '/usr/lib/ipxe', env: 'ANEMOS_IPXE_DIR'}),
    media: Flags.string({description: 'A directory of installation ISOs (Debian, Ubuntu, Fedora and the RHEL family) a desired deployment\'s installer: may name; read in place, never mounted (anemos serve media list shows them).', env: 'ANEMOS_MEDIA', dependsOn: ['boot']}),
    images: Flags.string({description: 'A directory of live images (anemos image build out/ directories, or links to them, one per name) a desired deployment\'s live.image may name: served to network-booted machines as initrds, each layer checked against its sha256 (docs/live-images.md).', env: 'ANEMOS_IMAGES', dependsOn: ['boot']}),
    'boot-ssh-keys': Flags.string({description: 'A file of SSH public keys let into network-booted deploy environments (authorized_keys format).', env: 'ANEMOS_BOOT_SSH_KEYS', dependsOn: ['boot']}),
    'boot-cache': Flags.string({description: 'Where the payloads desired deployments name are fetched to, checked and kept for network boots (default: boot-cache in --data).', env: 'ANEMOS_BOOT_CACHE', dependsOn: ['boot']}),
    'boot-cmdline': Flags.string({description: 'Kernel arguments of network-booted deploy environments, before anemos\' own.', default: 'console=tty0 console=ttyS0,115200', env: 'ANEMOS_BOOT_CMDLINE'}),
  };

  async run(): Promise<void> {
    // The settings file's keys become flags the command line and the environment did not set.
    const settings = settingsFile(this.argv, process.env);
    if (settings) {
      const specs = Object.fromEntries(Object.entries(Serve.flags).filter(([name]) => name !== 'settings').map(([name, f]) => [name, {type: f.type === 'boolean' ? 'boolean' : 'option', env: f.env, multiple: Boolean((f as {multiple?: boolean}).multiple)} as const]));
      this.argv = [...serveSettings(settings, specs, this.argv, process.env), ...this.argv];
    }
    const {flags} = await this.parse(Serve);
    const tls = parseTlsFlags({tls: flags.tls, cert: flags['tls-cert'], key: flags['tls-key'], names: flags['tls-name']});
    if (flags.boot && (!flags['boot-interface'] || !flags['boot-environment'])) {
      throw usageError('boot-flags', `--boot needs ${[!flags['boot-interface'] && '--boot-interface IF', !flags['boot-environment'] && '--boot-environment DIR'].filter(Boolean).join(' and ')}.`, 'For example: anemos serve --boot --boot-interface eth1 --boot-environment /var/lib/anemos/environment (made by anemos initramfs build -o DIR).');
    }
    if (flags['dhcp-range'] && flags.dhcp !== 'full') throw usageError('dhcp-range', `--dhcp-range is for --dhcp full; with --dhcp ${flags.dhcp} the site's DHCP gives the addresses.`, 'Add --dhcp full on an isolated boot network, or leave --dhcp-range out.');
    const boot = flags.boot
      ? {interface: flags['boot-interface']!, environment: flags['boot-environment']!, dhcp: flags.dhcp as DhcpMode, ...(flags['dhcp-range'] ? {dhcpRange: flags['dhcp-range']} : {}), leaseSeconds: flags['dhcp-lease'], discover: Boolean(flags.discover), idle: flags['discover-idle'] as Idle, httpPort: flags['boot-http-port'], ipxeDir: flags['ipxe-dir'], sshKeys: flags['boot-ssh-keys'], ...(flags.media ? {media: flags.media} : {}), ...(flags.images ? {images: flags.images} : {}), cmdline: flags['boot-cmdline'], ...(flags['boot-cache'] ? {cacheDir: flags['boot-cache']} : {})}
      : undefined;
    const running = await serveRegistry({boot, data: flags.data, database: flags.database, listen: flags.listen, version: this.config.version, tls, log: flags.quiet ? (l) => (l.startsWith('error') ? this.progress(l) : undefined) : (l) => this.progress(l)});
    this.out(`anemos registry: ${running.url} (${running.kind === 'embedded' ? 'embedded database in' : 'PostgreSQL at'} ${running.where}); the API at ${running.url}/api/v1, its description at ${running.url}/api/v1/openapi.json`);
    if (running.boot) this.out(`network boot: on ${flags['boot-interface']} (${running.boot.address}), scripts and files at ${running.boot.httpBase}/boot/; discovery ${flags.discover ? 'on' : 'off'}`);
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
