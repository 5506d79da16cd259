import {Flags} from '@oclif/core';
import {DEFAULT_CONFIG_PATH, loadConfig} from '../../adapters/config-file.js';
import {missingChecksums} from '../../core/config.js';
import {configError} from '../../shared/errors.js';
import {BaseCommand} from '../base.js';

export default class ConfigCheck extends BaseCommand {
  static summary = 'Validate anemos.conf and list every problem with its YAML path.';
  static description = 'Reads the file, checks every key against the schema (schema/anemos.conf.schema.json) and prints the normalized configuration. Changes nothing.';
  static examples = ['<%= config.bin %> config check', '<%= config.bin %> config check --config ./anemos.conf --json'];
  static enableJsonFlag = true;
  static flags = {
    config: Flags.string({char: 'c', description: 'Config file.', env: 'ANEMOS_CONFIG', default: DEFAULT_CONFIG_PATH}),
    'allow-unverified': Flags.boolean({description: 'Accept artifacts without sha256 (warns).', env: 'ANEMOS_ALLOW_UNVERIFIED'}),
  };

  async run(): Promise<unknown> {
    const {flags} = await this.parse(ConfigCheck);
    const config = await loadConfig(flags.config);
    const missing = missingChecksums(config);
    if (missing.length && !flags['allow-unverified']) {
      throw configError('config-missing-sha256', `${flags.config} names artifacts without a sha256.`, 'Add the sha256 of each file (sha256sum FILE), or pass --allow-unverified to accept unverified downloads.', missing.map((m) => `${m}: is required`));
    }
    if (!this.jsonEnabled()) {
      this.out(`${flags.config}: OK`);
      if (missing.length) this.progress(`WARNING: unverified artifacts allowed: ${missing.join(', ')}`);
    }
    return config;
  }
}
