import {basename, resolve} from 'node:path';
import {Args, Flags} from '@oclif/core';
import {packPayload} from '../../services/payload.js';
import {BaseCommand} from '../base.js';

export default class PayloadPack extends BaseCommand {
  static summary = 'Pack a payload directory into a reproducible tar.gz and print its sha256.';
  static description = 'Checks the payload first. Entries are sorted, owned by root, mtime 0: the same directory always gives the same bytes.';
  static examples = ['<%= config.bin %> payload pack payloads/image -o payload.tar.gz'];
  static enableJsonFlag = true;
  static args = {dir: Args.string({required: true, description: 'payload directory'})};
  static flags = {output: Flags.string({char: 'o', description: 'Output file (default: DIR.tar.gz in the current directory).'})};

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(PayloadPack);
    const output = resolve(flags.output ?? `${basename(resolve(args.dir))}.tar.gz`);
    const r = await packPayload(args.dir, output);
    for (const w of r.check.warnings) this.progress(`WARNING: ${w}`);
    if (!this.jsonEnabled()) {
      this.out(`${r.output}: ${r.size} bytes, sha256 ${r.sha256}`);
      this.out(`\nFor anemos.conf, once it is published (URL or path on the host):\npayload:\n  url: https://example.org/${basename(r.output)}\n  sha256: ${r.sha256}`);
    }
    return {output: r.output, sha256: r.sha256, size: r.size, kind: r.check.kind, warnings: r.check.warnings};
  }
}
