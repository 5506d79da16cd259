import {Flags} from '@oclif/core';
import {buildBaseInitramfs} from '../../services/initramfs-build.js';
import {BaseCommand} from '../base.js';

export default class InitramfsBuild extends BaseCommand {
  static summary = 'Build the base initramfs and fetch its kernel, from Debian packages, without root.';
  static description =
    'Runs the recipe initramfs/build.sh of an anemos checkout: apt-get download + dpkg-deb -x, busybox, QuickJS and the agent, dropbear, disk tools and the kernel modules of a profile, with /usr in a squashfs image that /init mounts (needs squashfs-tools and gnupg). Writes vmlinuz, initramfs.cpio.zst, SHA256SUMS and manifest.json.';
  static examples = ['<%= config.bin %> initramfs build -o ./out', '<%= config.bin %> initramfs build -o ./out --kernel-package linux-image-amd64 --profile baremetal'];
  static enableJsonFlag = true;
  static flags = {
    output: Flags.string({char: 'o', required: true, description: 'Output directory.'}),
    'kernel-package': Flags.string({default: 'linux-image-cloud-amd64', description: 'Debian kernel meta package (linux-image-amd64 for bare metal).', env: 'ANEMOS_KERNEL_PACKAGE'}),
    profile: Flags.string({options: ['virtual', 'baremetal'], default: 'virtual', description: 'Which kernel modules to include.'}),
  };

  async run(): Promise<unknown> {
    const {flags} = await this.parse(InitramfsBuild);
    const r = await buildBaseInitramfs({output: flags.output, kernelPackage: flags['kernel-package'], profile: flags.profile as 'virtual' | 'baremetal', bundleDir: __dirname});
    if (!this.jsonEnabled()) {
      this.out(`${r.initramfs}: ${(r.manifest.sizes.initramfs / 1048576).toFixed(1)} MiB compressed, ${(r.manifest.sizes.unpacked / 1048576).toFixed(1)} MiB unpacked`);
      this.out(`${r.kernel}: ${r.manifest.kernel.version}`);
      this.out(`sha256: initramfs ${r.sha256.initramfs}, kernel ${r.sha256.kernel}`);
    }
    return r;
  }
}
