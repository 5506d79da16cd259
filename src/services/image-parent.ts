// A live layer's parent named by URL (from= and from_sha256= in an IMGBUILD): a chain of
// layers someone else built and published (a build directory served over http(s)). Its
// manifest.json is pinned by from_sha256; each manifest pins its layer (sha256) and its
// parent's manifest, so the one pin covers the whole chain. Every file is verified before
// use (adapters/fetch.ts) and kept under the child's out/from/, as build directories a
// deploy follows like any other (core/live/image.ts). The parent's tree, for the child to be
// built on, is the layers merged as overlayfs shows them (core/live/layer.ts), read from
// each squashfs by sqfs2tar (squashfs-tools-ng), which keeps owners, modes and devices
// without root, where unsquashfs would need it.

import {constants as fsConstants} from 'node:fs';
import {chmod, copyFile, mkdir, readdir, readFile, rm, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {fetchArtifact, sha256File} from '../adapters/fetch.js';
import {fileSource} from '../adapters/file-source.js';
import type {Runner} from '../adapters/process.js';
import {downloadedManifestProblem, mergeLayers, type LayerManifest, type Listing} from '../core/live/layer.js';
import {readTar, type TarEntry} from '../core/tar.js';
import {toolMissing} from '../shared/command.js';
import {AnemosError} from '../shared/errors.js';
import {listEntry, tarWriter} from './layer-io.js';

export interface FetchedParent {
  /** The build directory of the parent named by URL, under INTO. */
  dir: string;
  manifest: LayerManifest;
  /** The parent's whole tree as one tar, without what is under /dev (the builder makes its own). */
  tree: string;
}

const parentError = (code: string, message: string, hint: string) => new AnemosError('config', code, message, {hint});

/** Download the chain at URL (pinned by SHA256, its manifest's), keep it under INTO as build directories, and write its tree to TREE. */
export async function fetchParent(o: {url: string; sha256: string; into: string; tree: string; runner: Runner; log: (l: string) => void}): Promise<FetchedParent> {
  // Before anything is downloaded: the tool that reads the layers.
  await o.runner.run('sqfs2tar', ['--version']).catch((e: unknown) => {
    throw e instanceof AnemosError && e.code === 'tool-missing' ? toolMissing('sqfs2tar', ['--version'], {hint: 'Install squashfs-tools-ng (Debian: apt install squashfs-tools-ng): it reads a downloaded parent\'s layers as a tar, owners kept, without root.'}) : e;
  });
  const cacheDir = join(o.into, '.downloads');
  const chain: {url: string; manifest: LayerManifest; layer: string}[] = [];
  let url = o.url.replace(/\/+$/, '');
  let pin = o.sha256;
  for (;;) {
    if (chain.length >= 32) throw parentError('image-parent-chain', `The parent chain of ${o.url} is more than 32 layers deep.`, 'Name a parent with a shorter chain.');
    const m = await fetchArtifact({name: `parent's manifest.json`, url: `${url}/manifest.json`, sha256: pin}, {cacheDir}).catch((e: unknown) => {
      if (!(e instanceof AnemosError) || e.code !== 'fetch-sha256-mismatch') throw e;
      throw new AnemosError('fetch', e.code, `${e.message} Nothing was built.`, {
        details: e.details,
        hint: chain.length
          ? `${chain[0]!.url}/manifest.json pins it: the published chain changed since that layer was built; publish it again as anemos image build left it.`
          : 'Either the parent was built again since from_sha256 was written (pin its new manifest: anemos image build printed its "manifest sha256"), or it is not the one you meant: check which, then fix from_sha256 in IMGBUILD.',
      });
    });
    let manifest: LayerManifest;
    try {
      manifest = JSON.parse(await readFile(m.path, 'utf8')) as LayerManifest;
    } catch {
      throw parentError('image-parent-manifest', `${url}/manifest.json is not JSON.`, 'Name the out/ directory of a layer built by anemos image build.');
    }
    const problem = downloadedManifestProblem(manifest);
    if (problem) throw parentError('image-parent-manifest', `${url}/manifest.json: ${problem}; nothing was built.`, 'Name the out/ directory of a layer built by anemos image build, published as it is.');
    const child = chain[0]?.manifest;
    if (child && child.parent!.sha256 !== manifest.sha256) throw parentError('image-parent-manifest', `${chain[0]!.url}/manifest.json names its parent's layer ${child.parent!.sha256.slice(0, 12)}…, and ${url}/manifest.json names ${manifest.sha256.slice(0, 12)}…; nothing was built.`, 'The published chain is not the one its manifests pin: publish it again as anemos image build left it.');
    const layer = await fetchArtifact({name: `layer ${manifest.name}`, url: `${url}/layer.squashfs`, sha256: manifest.sha256}, {cacheDir});
    o.log(`image: from: ${manifest.name} ${manifest.sha256.slice(0, 12)}… ${layer.size} bytes, sha256 verified${layer.fromCache ? ' (kept from an earlier build)' : ` (${url})`}`);
    chain.unshift({url, manifest, layer: layer.path});
    if (!manifest.parent) break;
    const next = new URL(`${manifest.parent.dir!.replace(/\/+$/, '')}/`, `${url}/`);
    if (next.protocol !== 'http:' && next.protocol !== 'https:') throw parentError('image-parent-manifest', `${url}/manifest.json puts its parent at ${next.href}, not an http(s) URL.`, 'Publish the chain over http(s), as anemos image build left it.');
    url = next.href.replace(/\/+$/, '');
    pin = manifest.parent.manifest!;
  }

  // Build directories, bottom first, each manifest naming its parent where it now is (and pinning it as it is there).
  for (const e of await readdir(o.into)) if (e !== '.downloads') await rm(join(o.into, e), {recursive: true, force: true});
  let below: {dir: string; name: string; manifest: string} | undefined;
  let top: {dir: string; manifest: LayerManifest} | undefined;
  for (const [k, l] of chain.entries()) {
    const name = `${k}-${l.manifest.name}`;
    const dir = join(o.into, name);
    await mkdir(dir, {recursive: true});
    // A copy, readable by all as a build's own layer is: the download is kept private (0600), and out/ may be published.
    await copyFile(l.layer, join(dir, 'layer.squashfs'), fsConstants.COPYFILE_FICLONE);
    await chmod(join(dir, 'layer.squashfs'), 0o644);
    const manifest: LayerManifest = {...l.manifest, parent: below ? {...l.manifest.parent!, dir: `../${below.name}`, manifest: below.manifest} : null};
    await writeFile(join(dir, 'manifest.json'), `${JSON.stringify({...manifest, from: l.url}, null, 2)}\n`);
    below = {dir, name, manifest: await sha256File(join(dir, 'manifest.json'))};
    top = {dir, manifest};
  }
  await writeTree(chain.map((l) => l.layer), top!.dir, o.tree, o.runner);
  return {dir: top!.dir, manifest: top!.manifest, tree: o.tree};
}

/** The layers merged into TREE (no /dev entries) and their listing.json, in DIR. */
async function writeTree(layers: string[], dir: string, tree: string, runner: Runner): Promise<void> {
  const tars = layers.map((_, k) => `${tree}.${k}`);
  const opened: Awaited<ReturnType<typeof fileSource>>[] = [];
  try {
    for (const [k, layer] of layers.entries()) {
      await runner.run('sh', ['-c', 'exec sqfs2tar --no-skip "$1" > "$2"', 'sh', layer, tars[k]!]);
      opened.push(await fileSource(tars[k]!));
    }
    const entries: TarEntry[][] = [];
    for (const {source} of opened) {
      const list: TarEntry[] = [];
      for await (const e of readTar(source)) list.push(e);
      entries.push(list);
    }
    const listing: Listing = {};
    const out = tarWriter(tree);
    for (const {layer, entry: e} of mergeLayers(entries)) {
      const {source} = opened[layer]!;
      listing[e.path] = await listEntry(source, e);
      if (!e.path.startsWith('dev/')) await out.copy(source, e);
    }
    await out.end();
    await writeFile(join(dir, 'listing.json'), JSON.stringify(listing));
  } finally {
    for (const {handle} of opened) await handle.close();
    for (const t of tars) await rm(t, {force: true});
  }
}
