// Entry of the bundled CLI (dist/anemos.cjs): runs oclif with the package.json baked in,
// so the single file works with no node_modules and no package.json beside it.

import {basename, dirname} from 'node:path';
import type * as Oclif from '@oclif/core';
import pkg from '../package.json' with {type: 'json'};
import {COMMAND_IDS, COMMANDS} from './commands/index.js';
import {closest} from './core/json-schema.js';
import {AnemosError, formatError} from './shared/errors.js';

export {COMMANDS};

/** The command manifest (ids, flags, descriptions) that scripts/build.mjs embeds, so that
 * start-up, help and parsing need no command module (undefined in the first build pass). */
declare const ANEMOS_MANIFEST: string | undefined;
const embedded = (): {version: string; commands: Record<string, unknown>} | undefined => (typeof ANEMOS_MANIFEST === 'undefined' ? undefined : JSON.parse(ANEMOS_MANIFEST));

/**
 * oclif, loaded when a command runs rather than at every start (it is most of what the
 * one-file CLI evaluates). Its root plugin gets the embedded manifest: oclif reads a
 * plugin's manifest from oclif.manifest.json beside it, which a one-file CLI has none of.
 */
let loaded: typeof Oclif | undefined;
function oclif(): typeof Oclif {
  if (loaded) return loaded;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  loaded = require('@oclif/core') as typeof Oclif;
  type ManifestHook = {_manifest(): Promise<unknown>; isRoot: boolean; hasManifest: boolean; commandIDs: string[]};
  const proto = loaded.Plugin.prototype as unknown as ManifestHook;
  const readManifest = proto._manifest;
  proto._manifest = async function (this: ManifestHook) {
    const manifest = this.isRoot ? embedded() : undefined;
    if (!manifest) return readManifest.call(this);
    this.hasManifest = true;
    this.commandIDs = Object.keys(manifest.commands);
    return manifest;
  };
  return loaded;
}

/** Build step: the manifest oclif makes by loading every command class. */
export async function buildManifest(bundleFile: string): Promise<unknown> {
  const plugin = new (oclif().Plugin)({root: dirname(bundleFile), pjson: makePjson(bundleFile) as never, isRoot: true, ignoreManifest: true});
  await plugin.load();
  return plugin.manifest;
}

const makePjson = (bundleFile: string) => ({
  name: pkg.name,
  version: pkg.version,
  description: pkg.description,
  oclif: {
    bin: 'anemos',
    dirname: 'anemos',
    topicSeparator: ' ',
    additionalHelpFlags: ['-h'],
    additionalVersionFlags: ['-v'],
    // The bundle itself exports COMMANDS; oclif requires it back from its own path,
    // whatever the file is called once installed (/usr/local/bin/anemos).
    commands: {strategy: 'explicit', target: `./${basename(bundleFile)}`, identifier: 'COMMANDS'},
    topics: {
      config: {description: 'Check the deploy configuration.'},
      image: {description: 'Build live images: layers of a system, booted into RAM.'},
      initramfs: {description: 'Build, compose and inspect initramfs images.'},
      live: {description: 'Live hosts: what differs from the image they booted; a host that boots its image from its disk at every boot, back to its installed system.'},
      network: {description: 'Capture the host network and render it for a new system.'},
      payload: {description: 'Pack and check payloads.'},
      machines: {description: "The registry's machines: list, show, change, retire, follow a deployment."},
      tokens: {description: "The registry's tokens: make, list, revoke (over its API)."},
      // "serve" is a command; its "serve token" subcommands are listed under it, not as a second "serve".
      serve: {description: 'Run the machine registry; its tokens on the registry\'s own machine.', hidden: true},
    },
  },
});

/** oclif's "command X not found" happens before any command runs: report it as ours do. */
function unknownCommand(err: unknown, argv: string[]): AnemosError | undefined {
  const m = /command (\S+) not found/.exec((err as Error)?.message ?? '');
  if (!m) return undefined;
  const given = m[1]!.replace(/:/g, ' ');
  const known = COMMAND_IDS.map((c) => c.replace(/:/g, ' '));
  const guess = closest(given, known);
  return new AnemosError('usage', 'unknown-command', `"${given}" is not an anemos command.`, {
    hint: `${guess ? `Did you mean "anemos ${guess}"? ` : ''}Commands: ${known.join(', ')}; "anemos --help" describes them.`,
  });
}

/** The spellings people try first: "anemos help [COMMAND…]", "anemos version". */
export function conventionalArgv(argv: string[]): string[] {
  if (argv[0] === 'help') return argv.length > 1 ? [...argv.slice(1), '--help'] : ['--help'];
  if (argv[0] === 'version' && argv.length === 1) return ['--version'];
  return argv;
}

/** What oclif prints for --version (its user agent): needs nothing of oclif to say. */
const versionLine = () => `${pkg.name}/${pkg.version} ${process.platform}-${process.arch} node-${process.version}`;

export function main(argv: string[], bundleFile: string): Promise<void> {
  argv = conventionalArgv(argv);
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
    process.stdout.write(`${versionLine()}\n`);
    return Promise.resolve();
  }
  const {run, flush, handle} = oclif();
  return run(argv, {root: dirname(bundleFile), pjson: makePjson(bundleFile) as never, isRoot: true})
    .then(() => flush())
    .catch((err) => {
      const unknown = unknownCommand(err, argv);
      if (!unknown) return handle(err);
      if (argv.includes('--json')) process.stdout.write(JSON.stringify({error: unknown.toJSON()}, null, 2) + '\n');
      else process.stderr.write(formatError(unknown) + '\n');
      process.exitCode = unknown.exitCode;
    });
}
