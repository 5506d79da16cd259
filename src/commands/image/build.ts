import {Args, Flags} from '@oclif/core';
import {buildImage} from '../../services/image-build.js';
import {BaseCommand} from '../base.js';

export default class ImageBuild extends BaseCommand {
  static summary = 'Build a live image\'s layer from an IMGBUILD with format="live": a squashfs of what it adds or changes over its parent (from=), without root.';
  static description =
    'The tree is made by mmdebstrap in unshare mode (user namespaces; no root), replaying the chain from its bottom layer: packages, each layer\'s files/, provision() and services. The layer holds only what differs from the parent\'s tree, with overlayfs whiteouts for what it removes; every timestamp is SOURCE_DATE_EPOCH (a fixed time by default), so the same inputs give the same bytes. A parent that was not built, or changed since, stops the build unless --with-parents rebuilds it first; a layer that is up to date is not built again (--force). Writes layer.squashfs, manifest.json and listing.json to DIR/out (or -o).';
  static examples = ['<%= config.bin %> image build images/base', '<%= config.bin %> image build images/web --with-parents'];
  static enableJsonFlag = true;
  static args = {dir: Args.string({required: true, description: 'The IMGBUILD project directory.'})};
  static flags = {
    output: Flags.string({char: 'o', description: 'Where the layer goes (DIR/out by default, where a child\'s from= finds it).'}),
    'with-parents': Flags.boolean({description: 'Rebuild the parents that were not built or are stale first, bottom up.'}),
    force: Flags.boolean({description: 'Build the layer even when it is up to date (its files and its parent unchanged since).'}),
  };

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(ImageBuild);
    const built = await buildImage({dir: args.dir, ...(flags.output ? {out: flags.output} : {}), withParents: flags['with-parents'], force: flags.force, log: (l) => this.progress(l)});
    if (!this.jsonEnabled()) {
      for (const b of built) {
        this.out(`${b.manifest.name}: ${b.out}/layer.squashfs ${b.manifest.sha256} ${b.manifest.size} bytes${b.manifest.parent ? ` over ${b.manifest.parent.name} ${b.manifest.parent.sha256.slice(0, 12)}…` : ''} (${b.seconds.toFixed(0)} s)`);
        this.out(`  manifest sha256 ${b.manifestSha256}: a child built elsewhere names ${b.out} by its URL in from= and this in from_sha256=`);
      }
    }
    return {built: built.map((b) => ({dir: b.dir, out: b.out, seconds: b.seconds, manifest: b.manifest, manifestSha256: b.manifestSha256}))};
  }
}
