import {Args, Flags} from '@oclif/core';
import {MACHINE_STATES} from '../../core/registry/lifecycle.js';
import {renderMachine} from '../../services/registry/client-render.js';
import {connectRegistry, setMachine} from '../../services/registry/client.js';
import {usageError} from '../../shared/errors.js';
import {BaseCommand} from '../base.js';
import {registryFlags, registryFlagValues} from '../registry-flags.js';

/** --attribute KEY=VALUE: the value as JSON when it reads as JSON (3, true, {"a": 1}), else as text; KEY= removes it. */
export function parseAttributes(items: string[] = []): Record<string, unknown> | undefined {
  if (!items.length) return undefined;
  const out: Record<string, unknown> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq < 1) throw usageError('bad-attribute', `--attribute ${item} is not KEY=VALUE.`, 'For example --attribute rack=r3, --attribute weight=2, or --attribute rack= to remove it.');
    const key = item.slice(0, eq);
    const raw = item.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = raw === '' ? null : JSON.parse(raw);
    } catch {
      value = raw; // text, as written
    }
    out[key] = value;
  }
  return out;
}

export default class MachinesSet extends BaseCommand {
  static summary = "Change a machine's state, tags, attributes, hostname or desired deployment.";
  static description =
    'The desired deployment comes from a file in anemos.conf\'s words (kernel, initramfs, payload with their sha256, and any key to override), validated here with the same rules as "anemos config check" before anything is sent. Other changes go as one JSON Merge Patch.';
  static examples = [
    '<%= config.bin %> machines set web1 --desired-config web1.conf',
    '<%= config.bin %> machines set web1 --state ready --add-tag rack3 --attribute owner=web-team',
    '<%= config.bin %> machines set web1 --installer debian-12.8.0-amd64-netinst --state ready',
  ];
  static enableJsonFlag = true;
  static args = {machine: Args.string({required: true, description: 'Its id, UUID or one of its MACs.'})};
  static flags = {
    ...registryFlags,
    state: Flags.string({options: [...MACHINE_STATES], description: 'The new lifecycle state (as the lifecycle allows).'}),
    tag: Flags.string({multiple: true, description: 'The tags, replacing all (repeatable).'}),
    'add-tag': Flags.string({multiple: true, description: 'A tag to add (repeatable).'}),
    'remove-tag': Flags.string({multiple: true, description: 'A tag to remove (repeatable).'}),
    attribute: Flags.string({multiple: true, description: 'KEY=VALUE (JSON or text; KEY= removes it), repeatable.'}),
    hostname: Flags.string({description: 'The hostname it is recorded with.'}),
    'desired-config': Flags.string({description: 'A YAML file: the desired deployment (validated here first).', exclusive: ['clear-desired']}),
    'clear-desired': Flags.boolean({description: 'Remove the desired deployment.'}),
    installer: Flags.string({description: "The desired deployment becomes the installer of this ISO of anemos serve --media (its file name without .iso), with the built-in answer file for its kind; config overrides are kept, a payload is removed.", exclusive: ['desired-config', 'clear-desired']}),
    'answer-template': Flags.string({description: 'With --installer: a file, the answer file as a template with {{VARIABLES}} (preseed, kickstart or autoinstall).', dependsOn: ['installer']}),
  };

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(MachinesSet);
    const machine = await setMachine(connectRegistry(registryFlagValues(flags)), args.machine, {
      state: flags.state,
      tags: flags.tag,
      addTags: flags['add-tag'],
      removeTags: flags['remove-tag'],
      attributes: parseAttributes(flags.attribute),
      hostname: flags.hostname,
      desiredFile: flags['desired-config'],
      clearDesired: flags['clear-desired'],
      installer: flags.installer,
      answerTemplate: flags['answer-template'],
    });
    if (!this.jsonEnabled()) for (const l of renderMachine(machine, [])) this.out(l);
    return {machine};
  }
}
