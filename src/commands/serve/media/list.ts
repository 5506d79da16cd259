import {Flags} from '@oclif/core';
import {listMedia} from '../../../services/netboot/media.js';
import {BaseCommand} from '../../base.js';

export default class MediaList extends BaseCommand {
  static summary = 'List the installation ISOs anemos serve --media DIR offers: the distribution, release and architecture found in each, and where its kernel and initrd are.';
  static description = 'Each ISO is read as it is (no mount, no root): its installer is found from the image itself (.disk/info and install.amd/ for Debian, casper/ for Ubuntu, .treeinfo for Fedora and the RHEL family). An ISO that cannot be identified is listed with what was looked for; no machine is offered it.';
  static examples = ['<%= config.bin %> serve media list --media /srv/iso', '<%= config.bin %> serve media list --media /srv/iso --json'];
  static enableJsonFlag = true;
  static flags = {media: Flags.string({required: true, env: 'ANEMOS_MEDIA', description: 'The directory of ISO files (as anemos serve --media).'})};

  async run(): Promise<unknown> {
    const {flags} = await this.parse(MediaList);
    const media = await listMedia(flags.media);
    if (!this.jsonEnabled()) {
      if (!media.length) this.out(`No ISO files in ${flags.media}.`);
      for (const m of media) {
        if (m.media) {
          this.out(`${m.id}: ${m.media.distribution} ${m.media.release} ${m.media.arch} (${m.media.kind}), ${m.size} bytes`);
          this.out(`  kernel ${m.media.kernel}, initrd ${m.media.initrd}; says "${m.media.label}"`);
        } else {
          this.out(`${m.id}: not offered: ${m.problem}`);
        }
      }
    }
    return {media};
  }
}
