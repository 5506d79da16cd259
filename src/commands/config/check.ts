import {Flags} from '@oclif/core';
import {DEFAULT_CONFIG_PATH} from '../../core/config.js';
import {checkConfigFile} from '../../services/config.js';
import {BaseCommand} from '../base.js';

export default class ConfigCheck extends BaseCommand {
  static summary = 'Validate anemos.conf and list every problem with its YAML path.';
  static description =
    'Reads the file, checks every key against the schema (schema/anemos.conf.schema.json) and the rules around it (a sha256 for every artifact, the network mapping), and prints the normalized configuration; relative paths are shown as read from the config file\'s directory. Changes nothing.';
  static examples = ['<%= config.bin %> config check', '<%= config.bin %> config check --config ./anemos.conf --json'];
  static enableJsonFlag = true;
  static flags = {
    config: Flags.string({char: 'c', description: 'Config file.', env: 'ANEMOS_CONFIG', default: DEFAULT_CONFIG_PATH}),
    'allow-unverified': Flags.boolean({description: 'Accept artifacts without sha256 (warns).', env: 'ANEMOS_ALLOW_UNVERIFIED'}),
  };

  async run(): Promise<unknown> {
    const {flags} = await this.parse(ConfigCheck);
    const {config, unverified, localFiles} = await checkConfigFile(flags.config, {allowUnverified: flags['allow-unverified']});
    if (!this.jsonEnabled()) {
      this.out(`${flags.config}: OK`);
      for (const f of localFiles) this.out(`  reads ${f}`);
      if (unverified.length) this.progress(`WARNING: unverified artifacts allowed: ${unverified.join(', ')}`);
    }
    return config;
  }
}
