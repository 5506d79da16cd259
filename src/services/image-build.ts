// anemos image build DIR: an IMGBUILD with format "live" becomes a layer, a squashfs image
// of what it adds or changes over its parent (from=), with whiteouts for what it removes,
// and a manifest. The tree is made by mmdebstrap without root (core/live/build-plan.ts),
// listed from its tar, cut into the layer (core/live/layer.ts) and squashed by mksquashfs
// from a tar, with nothing extracted. A parent that was not built, or changed since, stops
// the build before anything runs, unless --with-parents rebuilds the chain. A parent named by
// URL (pinned by from_sha256) is downloaded and verified (services/image-parent.ts), and the
// chain above it is built on its tree.

import {createHash} from 'node:crypto';
import {existsSync} from 'node:fs';
import {mkdir, readFile, rename, rm, stat, writeFile} from 'node:fs/promises';
import {join, relative, resolve} from 'node:path';
import {isRemote, sha256File} from '../adapters/fetch.js';
import {fileSource} from '../adapters/file-source.js';
import {evaluateImgbuild, listPayloadFiles} from '../adapters/payload-dir.js';
import {realRunner, type Runner} from '../adapters/process.js';
import {chainProblems, DEFAULT_EPOCH, planTree, squashfsCommand, type ChainLayer} from '../core/live/build-plan.js';
import {bootFiles, parentProblem, planLayer, type LayerManifest, type Listing} from '../core/live/layer.js';
import {readTar, tarHeader} from '../core/tar.js';
import {TEMPLATE_SUFFIX, TEMPLATE_VARIABLES, unknownTemplateVariables} from '../core/imgbuild.js';
import {configError, AnemosError} from '../shared/errors.js';
import {fetchParent, type FetchedParent} from './image-parent.js';
import {listEntry, tarWriter} from './layer-io.js';

export interface ImageBuildOptions {
  dir: string;
  /** Where the layer goes; DIR/out by default (where a child's from= finds it). */
  out?: string;
  /** Rebuild parents that were not built or are stale, bottom first. */
  withParents?: boolean;
  /** Build DIR's layer even when it is up to date. */
  force?: boolean;
  log: (line: string) => void;
  runner?: Runner;
  /** SOURCE_DATE_EPOCH; DEFAULT_EPOCH by default. */
  epoch?: number;
}

export interface BuiltLayer {
  dir: string;
  out: string;
  manifest: LayerManifest;
  /** sha256 of its manifest.json: what a child built elsewhere pins as from_sha256. */
  manifestSha256: string;
  seconds: number;
}

interface Project extends ChainLayer {
  out: string;
  /** sha256 of its files (the parent's layer joins it when it is built). */
  files: string;
}

const MANIFEST = 'manifest.json';
const LAYER = 'layer.squashfs';
const LISTING = 'listing.json';

async function readManifest(out: string): Promise<LayerManifest | undefined> {
  try {
    return JSON.parse(await readFile(join(out, MANIFEST), 'utf8')) as LayerManifest;
  } catch {
    return undefined;
  }
}

/** The project at DIR, its IMGBUILD read as a live layer's. */
async function loadProject(dir: string, runner: Runner, out?: string): Promise<Project> {
  if (!existsSync(join(dir, 'IMGBUILD'))) throw configError('image-no-imgbuild', `${dir} has no IMGBUILD.`, 'Name the directory of an IMGBUILD with format="live".');
  const files = listPayloadFiles(dir).filter((f) => !f.path.startsWith('out/') && f.path !== 'out');
  const found = await evaluateImgbuild(runner, dir, files, undefined, 'live');
  if (!found.spec) throw configError('image-imgbuild', `${dir}/IMGBUILD cannot be built as a live layer.`, 'Fix each problem listed.', found.errors);
  // conffs/ templates are rendered for each host at boot: one that names a variable no host has is refused now.
  const unknown: string[] = [];
  for (const f of files.filter((f) => f.type === 'file' && f.path.startsWith('conffs/') && f.path.endsWith(TEMPLATE_SUFFIX))) {
    const names = unknownTemplateVariables(await readFile(join(dir, f.path), 'utf8'), {attributes: true});
    if (names.length) unknown.push(`${f.path}: ${names.map((n) => `{{${n}}}`).join(', ')}`);
  }
  if (unknown.length) throw configError('image-conffs', `${dir}: conffs/ templates name variables no host has; nothing was built.`, `Use the known ones: ${TEMPLATE_VARIABLES.join(', ')}, and the registry record's attributes as ATTR_NAME (upper case).`, unknown);
  const h = createHash('sha256');
  for (const f of files.sort((a, b) => a.path.localeCompare(b.path))) {
    h.update(`${f.path}\0${f.type}\0${f.mode}\0`);
    if (f.type === 'file') h.update(await readFile(join(dir, f.path)));
    h.update('\0');
  }
  return {dir, spec: found.spec, out: out ?? join(dir, 'out'), files: h.digest('hex')};
}

/** The chain from the bottom layer to DIR, following from= (down to a parent named by URL, if one is). */
async function loadChain(dir: string, runner: Runner, out?: string): Promise<Project[]> {
  const chain: Project[] = [await loadProject(resolve(dir), runner, out)];
  while (chain[0]!.spec.from && !isRemote(chain[0]!.spec.from)) {
    const from = resolve(chain[0]!.dir, chain[0]!.spec.from);
    if (chain.some((p) => p.dir === from)) throw configError('image-cycle', `${chain[0]!.dir}: from=${chain[0]!.spec.from} leads back to a layer of its own chain.`, 'Make the chain a line from a bottom layer (no from=) up.');
    // A build directory names its project in its manifest.
    const manifest = existsSync(join(from, 'IMGBUILD')) ? undefined : await readManifest(from);
    const project = manifest ? (manifest as LayerManifest & {project?: string}).project : from;
    if (!project || !existsSync(join(project, 'IMGBUILD'))) throw configError('image-parent-missing', `${chain[0]!.dir}: its parent from=${chain[0]!.spec.from} is neither an IMGBUILD project nor a layer built by anemos image build.`, 'Name the parent\'s project directory (its layer is in its out/).');
    chain.unshift(await loadProject(project, runner, manifest ? from : undefined));
  }
  const problems = chainProblems(chain);
  if (problems.length) throw configError('image-chain', `The chain of ${dir} cannot be built.`, 'Build every layer of a chain on the same suite and mirror.', problems);
  return chain;
}

const inputsOf = (p: Project, parent?: LayerManifest) => createHash('sha256').update(`${p.files}\0${parent?.sha256 ?? ''}`).digest('hex');

/** Build DIR's layer (and, with --with-parents, its parents that need it). */
export async function buildImage(o: ImageBuildOptions): Promise<BuiltLayer[]> {
  const runner = o.runner ?? realRunner;
  const chain = await loadChain(o.dir, runner, o.out);
  const built: BuiltLayer[] = [];
  const bottom = chain[0]!;
  // A parent named by URL: downloaded, verified and kept in the bottom layer's out/from/, its tree beside it while this runs.
  let remote: FetchedParent | undefined;
  if (bottom.spec.from) {
    const into = join(bottom.out, 'from');
    await mkdir(into, {recursive: true});
    remote = await fetchParent({url: bottom.spec.from, sha256: bottom.spec.fromSha256!, into, tree: join(into, '.tree.tar'), runner, log: o.log});
  }
  try {
    let parent: LayerManifest | undefined = remote?.manifest;
    let parentOut = remote?.dir;
    for (const [i, p] of chain.entries()) {
      const top = i === chain.length - 1;
      const manifest = await readManifest(p.out);
      const inputs = inputsOf(p, parent);
      const problem = parentProblem({name: p.spec.imgname, dir: p.dir, ...(manifest ? {manifest} : {}), inputs});
      if (!top && problem && !o.withParents) throw configError('image-parent-stale', `${chain.at(-1)!.spec.imgname} cannot be built: ${problem}. Nothing was built.`, `Build the chain bottom up: anemos image build ${chain.at(-1)!.dir} --with-parents.`);
      if (!problem && !(top && o.force)) {
        o.log(`image: ${p.spec.imgname}: its layer is up to date (${manifest!.sha256.slice(0, 12)}…)${top ? '; --force builds it again' : ''}`);
        parent = manifest;
        parentOut = p.out;
        if (top) built.push({dir: p.dir, out: p.out, manifest: manifest!, manifestSha256: await sha256File(join(p.out, MANIFEST)), seconds: 0});
        continue;
      }
      const layer = await buildLayer(chain.slice(0, i + 1), p, parent && {manifest: parent, out: parentOut!}, remote?.tree, inputs, o.epoch ?? (Number(process.env.SOURCE_DATE_EPOCH) || DEFAULT_EPOCH), runner, o.log);
      built.push(layer);
      parent = layer.manifest;
      parentOut = p.out;
    }
    return built;
  } finally {
    if (remote) await rm(remote.tree, {force: true});
  }
}

/** P's layer over PARENT (its manifest, in its build directory), the chain's tree made on PARENTTREE when the parent was downloaded. */
async function buildLayer(chain: Project[], p: Project, parentBuild: {manifest: LayerManifest; out: string} | undefined, parentTree: string | undefined, inputs: string, epoch: number, runner: Runner, log: (l: string) => void): Promise<BuiltLayer> {
  const parent = parentBuild?.manifest;
  const t0 = Date.now();
  const work = join(p.out, '.work');
  await rm(work, {recursive: true, force: true});
  await mkdir(work, {recursive: true});
  const tree = join(work, 'tree.tar');
  const cmd = planTree(chain, tree, epoch, parentTree);
  if (!cmd) throw configError('image-target', `Target "${p.spec.target}" builds no live layers yet.`, 'Build live layers with target=debian.');
  log(`image: ${p.spec.imgname}: mmdebstrap ${p.spec.options.debian_suite} (${[...(parentTree ? [`${chain[0]!.spec.from} (its tree)`] : []), ...chain.map((c) => c.spec.imgname)].join(' → ')}), without root, SOURCE_DATE_EPOCH=${epoch}`);
  const r = await runner.stream(cmd.cmd, cmd.args, {env: {...(process.env as Record<string, string>), ...cmd.env}, onLine: (l) => log(`  ${l}`), timeoutSeconds: 3600});
  if (r.exitCode !== 0) throw new AnemosError('command', 'image-tree', `mmdebstrap failed (exit ${r.exitCode ?? r.signal}) building ${p.spec.imgname}'s tree; nothing was written to ${p.out}.`, {hint: 'Read its output above: a package name, the mirror, or a provision() that failed.'});

  // The whole tree, listed with each file's sha256; the parent's listing beside its layer.
  const {source, handle} = await fileSource(tree);
  try {
    const listing: Listing = {};
    for await (const e of readTar(source)) if (e.path) listing[e.path] = await listEntry(source, e);
    const parentListing = parentBuild ? (JSON.parse(await readFile(join(parentBuild.out, LISTING), 'utf8')) as Listing) : undefined;
    const plan = planLayer(listing, parentListing);
    // The layer's tar: the kept entries as they are in the tree's (bytes copied), then the whiteouts.
    const layerTar = join(work, 'layer.tar');
    const out = tarWriter(layerTar);
    for await (const e of readTar(source)) if (e.path && plan.keep.has(e.path)) await out.copy(source, e);
    for (const path of plan.whiteouts) await out.write(tarHeader({path, type: 'char', mode: 0, mtime: epoch, devmajor: 0, devminor: 0}));
    await out.end();
    const sq = squashfsCommand(layerTar, join(work, LAYER), epoch);
    await runner.run(sq.cmd, sq.args);
    const size = (await stat(join(work, LAYER))).size;
    const manifest: LayerManifest & {project: string} = {
      format: 'anemos-live-layer/1',
      name: p.spec.imgname,
      sha256: await sha256File(join(work, LAYER)),
      size,
      parent: parentBuild ? {name: parentBuild.manifest.name, sha256: parentBuild.manifest.sha256, dir: relative(p.out, parentBuild.out) || '.', manifest: await sha256File(join(parentBuild.out, MANIFEST))} : null,
      chain: [...(parentBuild?.manifest.chain ?? []), p.spec.imgname],
      ...bootFiles(listing),
      inputs,
      epoch,
      entries: {tree: Object.keys(listing).length, layer: plan.keep.size + plan.whiteouts.length, added: plan.added.length, changed: plan.changed.length, removed: plan.removed.length},
      treeBytes: Object.values(listing).reduce((n, e) => n + e.size, 0),
      project: p.dir,
    };
    await writeFile(join(work, LISTING), JSON.stringify(listing));
    await writeFile(join(work, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    for (const f of [LAYER, LISTING, MANIFEST]) await rename(join(work, f), join(p.out, f));
    const seconds = (Date.now() - t0) / 1000;
    const manifestSha256 = await sha256File(join(p.out, MANIFEST));
    log(`image: ${p.spec.imgname}: layer ${manifest.sha256.slice(0, 12)}… ${size} bytes (${manifest.entries.layer} of the tree's ${manifest.entries.tree} entries: ${plan.added.length} added, ${plan.changed.length} changed, ${plan.whiteouts.length} whiteouts) in ${seconds.toFixed(0)} s`);
    return {dir: p.dir, out: p.out, manifest, manifestSha256, seconds};
  } finally {
    await handle.close();
    await rm(work, {recursive: true, force: true});
  }
}
