import {Args, Flags} from '@oclif/core';
import {composeFiles} from '../../services/initramfs-compose.js';
import {COMPRESSIONS} from '../../core/initramfs-format.js';
import {makeProgress} from '../../shared/progress.js';
import {BaseCommand} from '../base.js';

export default class InitramfsCompose extends BaseCommand {
  static summary = 'Append files to a base initramfs without unpacking it.';
  static description =
    'Writes BASE byte for byte, then one new newc segment with the given files. "anemos deploy --phases fetch,compose" composes the full deploy initramfs (config, network, payload, firmware) the same way.';
  static examples = ['<%= config.bin %> initramfs compose initramfs.cpio.zst -o final.img --add ./network.json=anemos/network.json'];
  static enableJsonFlag = true;
  static args = {base: Args.string({required: true, description: 'base initramfs (compressed newc)'})};
  static flags = {
    output: Flags.string({char: 'o', required: true, description: 'Output file.'}),
    add: Flags.string({multiple: true, description: 'SRC=DEST: put host file SRC at DEST in the initramfs (repeatable).', default: []}),
    compression: Flags.string({options: [...COMPRESSIONS], default: 'none', description: 'Compression of the new segment.'}),
    mtime: Flags.integer({description: 'mtime of every entry (default SOURCE_DATE_EPOCH or 0).', env: 'SOURCE_DATE_EPOCH'}),
  };

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(InitramfsCompose);
    const result = await composeFiles({
      base: args.base,
      output: flags.output,
      add: flags.add,
      compression: flags.compression as (typeof COMPRESSIONS)[number],
      mtime: flags.mtime ?? 0,
      progress: makeProgress(),
    });
    if (!this.jsonEnabled()) {
      this.out(`${result.output}: ${result.size} bytes (base ${result.baseSize} bytes copied unchanged)`);
      for (const s of result.segments) this.out(`  segment ${s.name}: ${s.compression}, ${s.length} bytes at byte ${s.offset}`);
    }
    return result;
  }
}
