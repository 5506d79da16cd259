import {Args, Flags} from '@oclif/core';
import {spaceByGroup} from '../../core/initramfs-space.js';
import {listInitramfs} from '../../services/inspect.js';
import {BaseCommand} from '../base.js';

export default class InitramfsList extends BaseCommand {
  static summary = 'List every segment of an initramfs and the files in it.';
  static description = 'Reads concatenated newc archives (plain, gzip, xz or zstd), the way the kernel unpacks them at boot. The base keeps /usr in a squashfs image (early/usr.squashfs) that /init mounts: its files are listed too, marked with the image, when unsquashfs (squashfs-tools) is installed.';
  static examples = ['<%= config.bin %> initramfs list initramfs.final', '<%= config.bin %> initramfs list --space .cache/base/initramfs.cpio.zst', '<%= config.bin %> initramfs list initramfs.final --json'];
  static enableJsonFlag = true;
  static args = {file: Args.string({required: true, description: 'initramfs file'})};
  static flags = {
    segments: Flags.boolean({description: 'Only the segment table, no files.'}),
    space: Flags.boolean({description: 'What takes the space: the unpacked bytes (held in RAM at boot) by group, largest first, with the largest files of each.'}),
  };

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(InitramfsList);
    const segments = await listInitramfs(args.file);
    const space = spaceByGroup(segments.flatMap((s) => s.entries));
    if (!this.jsonEnabled() && flags.space) {
      const MiB = 1048576;
      const total = space.reduce((a, g) => a + g.bytes, 0);
      const images = [...new Set(segments.flatMap((s) => s.entries.flatMap((e) => (e.image ? [e.image] : []))))];
      this.out(`${(total / MiB).toFixed(1)} MiB in regular files, unpacked${images.length ? ` (the files in ${images.join(', ')} with their own size: the image is held compressed and read on demand)` : ''}:`);
      for (const g of space) {
        const largest = g.largest.map((f) => `${f.path.split('/').pop()} ${(f.size / MiB).toFixed(1)}`).join(', ');
        this.out(`${(g.bytes / MiB).toFixed(1).padStart(7)} MiB ${String(g.files).padStart(5)} files  ${g.group}  (largest: ${largest})`);
      }
    } else if (!this.jsonEnabled()) {
      for (const s of segments) {
        this.out(`segment ${s.index}: ${s.compression} at byte ${s.offset}, ${s.length} bytes (${s.unpackedSize} unpacked), ${s.entries.length} entries`);
        if (!flags.segments) {
          for (const e of s.entries) {
            this.out(`  ${e.type === 'dir' ? 'd' : e.type === 'symlink' ? 'l' : '-'}${e.mode.toString(8).padStart(4, '0')} ${String(e.size).padStart(10)} ${e.path}${e.target ? ` -> ${e.target}` : ''}${e.image ? `  (in ${e.image})` : ''}`);
          }
        }
      }
    }
    return {space, segments: segments.map((s) => ({...s, entries: s.entries.map(({dataOffset, ...e}) => e)}))};
  }
}
