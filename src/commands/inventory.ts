import {Flags} from '@oclif/core';
import {DEFAULT_CREDENTIAL} from '../core/config.js';
import {reportThisHost} from '../services/registry/client.js';
import {gatherInventory} from '../services/inventory.js';
import {terminalLine} from '../shared/terminal-text.js';
import {BaseCommand} from './base.js';
import {registryFlagValues, registryTrustFlags} from './registry-flags.js';

export default class Inventory extends BaseCommand {
  static summary = 'Show what anemos knows about this host: network, disks, RAM, kexec, SSH keys, firmware; or report it to the registry.';
  static description =
    'The facts the deploy planner uses, plus the block devices. Changes nothing; needs no root (some facts are hidden without it). With --report URL, the hardware inventory goes to the registry: the first time with an enroll token, which registers this host and keeps its own credential (0600, --credential); after that with that credential. No reboot.';
  static examples = ['<%= config.bin %> inventory', '<%= config.bin %> inventory --json', 'ANEMOS_ENROLL_TOKEN=anm_… <%= config.bin %> inventory --report https://registry:8443 --registry-fingerprint sha256//…'];
  static enableJsonFlag = true;
  static flags = {
    report: Flags.string({description: 'Report this host\'s inventory to the registry at URL (enrolling it the first time).', env: 'ANEMOS_REPORT'}),
    'enroll-token': Flags.string({description: 'With --report, the first time: an enroll token (anemos tokens create --role enroll). Better in ANEMOS_ENROLL_TOKEN.', env: 'ANEMOS_ENROLL_TOKEN'}),
    credential: Flags.string({description: `Where this host keeps its registry credential (default ${DEFAULT_CREDENTIAL}).`, env: 'ANEMOS_CREDENTIAL'}),
    ...registryTrustFlags,
  };

  async run(): Promise<unknown> {
    const {flags} = await this.parse(Inventory);
    if (flags.report) {
      const r = await reportThisHost({...registryFlagValues({...flags, registry: flags.report}), ...(flags['enroll-token'] ? {enrollToken: flags['enroll-token']} : {}), ...(flags.credential ? {credentialPath: flags.credential} : {})});
      if (!this.jsonEnabled()) {
        this.out(r.enrolled ? `Enrolled at ${flags.report} as machine ${r.machine}${r.created ? ' (new)' : ''}; its credential is in ${r.credentialPath} (0600).` : `Reported to ${flags.report} as machine ${r.machine}.`);
        for (const c of r.changes) this.out(`  changed: ${terminalLine(c)}`);
      }
      return r;
    }
    const inv = await gatherInventory();
    if (!this.jsonEnabled()) for (const l of inv.text) this.out(l);
    return inv.data;
  }
}
