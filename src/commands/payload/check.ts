import {Args} from '@oclif/core';
import {realRunner} from '../../adapters/process.js';
import {assertPayloadValid, checkPayload} from '../../services/payload.js';
import {BaseCommand} from '../base.js';

export default class PayloadCheck extends BaseCommand {
  static summary = 'Check a payload directory or archive before it reaches a server.';
  static description = 'Needs an executable "deploy" or an IMGBUILD at the top; checks shell syntax (sh -n) and warns about secrets/ travelling unencrypted.';
  static examples = ['<%= config.bin %> payload check payloads/image', '<%= config.bin %> payload check payload.tar.gz --json'];
  static enableJsonFlag = true;
  static args = {source: Args.string({required: true, description: 'payload directory, .tar.gz or .tar.zst'})};

  async run(): Promise<unknown> {
    const {args} = await this.parse(PayloadCheck);
    const result = await checkPayload(realRunner, args.source);
    for (const w of result.warnings) this.progress(`WARNING: ${w}`);
    assertPayloadValid(result);
    if (!this.jsonEnabled()) this.out(`${args.source}: OK (${result.kind}, ${result.files} files)`);
    return result;
  }
}
