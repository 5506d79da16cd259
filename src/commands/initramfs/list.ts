import {Args, Flags} from '@oclif/core';
import {listInitramfs} from '../../services/inspect.js';
import {BaseCommand} from '../base.js';

export default class InitramfsList extends BaseCommand {
  static summary = 'List every segment of an initramfs and the files in it.';
  static description = 'Reads concatenated newc archives (plain, gzip, xz or zstd), the way the kernel unpacks them at boot.';
  static examples = ['<%= config.bin %> initramfs list initramfs.final', '<%= config.bin %> initramfs list initramfs.final --json'];
  static enableJsonFlag = true;
  static args = {file: Args.string({required: true, description: 'initramfs file'})};
  static flags = {segments: Flags.boolean({description: 'Only the segment table, no files.'})};

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(InitramfsList);
    const segments = await listInitramfs(args.file);
    if (!this.jsonEnabled()) {
      for (const s of segments) {
        this.out(`segment ${s.index}: ${s.compression} at byte ${s.offset}, ${s.length} bytes (${s.unpackedSize} unpacked), ${s.entries.length} entries`);
        if (!flags.segments) {
          for (const e of s.entries) {
            this.out(`  ${e.type === 'dir' ? 'd' : e.type === 'symlink' ? 'l' : '-'}${e.mode.toString(8).padStart(4, '0')} ${String(e.size).padStart(10)} ${e.path}${e.target ? ` -> ${e.target}` : ''}`);
          }
        }
      }
    }
    return {segments: segments.map((s) => ({...s, entries: s.entries.map(({dataOffset, ...e}) => e)}))};
  }
}
