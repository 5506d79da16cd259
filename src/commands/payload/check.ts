import {Args} from '@oclif/core';
import {assertPayloadValid, checkPayload} from '../../services/payload.js';
import {TARGET_MODULES} from '../../core/targets/index.js';
import {BaseCommand} from '../base.js';

export default class PayloadCheck extends BaseCommand {
  static summary = 'Check a payload directory or archive before it reaches a server.';
  static description = 'Needs an executable "deploy" or an IMGBUILD at the top; checks shell syntax (sh -n) and warns about secrets/ travelling unencrypted. An IMGBUILD is sourced by sh and checked as the deploy environment would: required directives, target, format, package names, templates (unknown {{VARIABLES}}), patches, required_files.';
  static examples = ['<%= config.bin %> payload check payloads/image', '<%= config.bin %> payload check payload.tar.gz --json'];
  static enableJsonFlag = true;
  static args = {source: Args.string({required: true, description: 'payload directory, .tar.gz or .tar.zst'})};

  async run(): Promise<unknown> {
    const {args} = await this.parse(PayloadCheck);
    const result = await checkPayload(args.source);
    for (const w of result.warnings) this.progress(`WARNING: ${w}`);
    assertPayloadValid(result);
    if (!this.jsonEnabled()) {
      const img = result.imgbuild;
      const what = img
        ? `IMGBUILD "${img.imgname}": ${TARGET_MODULES[img.target].summary(img)}, format ${img.format.kind === 'raw' ? `raw ${img.format.sizeText} ${img.format.table} ${img.format.fs}` : img.format.kind}, ` +
          `${img.packages.length} packages, services: ${img.services.join(' ') || 'none'}, ${img.templates.length} templates, ${img.patches.length} patches${img.functions.provision ? ', provision()' : ''}`
        : result.kind;
      this.out(`${args.source}: OK (${what}; ${result.files} file${result.files === 1 ? '' : 's'})`);
    }
    return result;
  }
}
