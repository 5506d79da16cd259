// The start of dist/anemos.cjs (scripts/build.mjs puts the bundle after it, in a comment:
// V8 skips a comment much faster than it reads a string literal, 4 ms of every start).
// Compiling the 1 MB bundle is a third of the CLI's start-up, so it is compiled with
// V8's code cache, kept per user in ~/.cache/anemos (what Node 22 does with
// module.enableCompileCache; the CLI runs on Node 18+). The cache is only read when the
// user owns it and nobody else can write it; a stale or foreign one is rejected by V8 and
// rewritten. Any failure to read or write it only costs the time it would have saved.
/** The bundle, from the comment that ends this file: pure ASCII, its "*" "/" pairs written "*\0/". */
function bundleSource(require, filename) {
  const text = require('node:fs').readFileSync(filename, 'latin1');
  const start = text.lastIndexOf('\n/*BUNDLE\n');
  return text.slice(start + '\n/*BUNDLE\n'.length, text.length - 2).replaceAll('*\0/', '*/');
}

function loadBundle(source, key, module, require, filename, dirname) {
  const fs = require('node:fs');
  const os = require('node:os');
  const path = require('node:path');
  const vm = require('node:vm');
  let file;
  let cachedData;
  try {
    const dir = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'anemos');
    file = path.join(dir, `cli-${key}-${process.version}-${process.arch}.v8`);
    const st = fs.statSync(file);
    if (st.uid === process.getuid() && (st.mode & 0o022) === 0) cachedData = fs.readFileSync(file);
  } catch {
    // no cache yet
  }
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  const script = new vm.Script(wrapped, {filename, cachedData});
  if (file && (!cachedData || script.cachedDataRejected)) {
    // Written at exit, so it holds the functions this run compiled too.
    process.once('exit', () => {
      try {
        fs.mkdirSync(path.dirname(file), {recursive: true, mode: 0o700});
        const tmp = `${file}.${process.pid}`;
        fs.writeFileSync(tmp, script.createCachedData(), {mode: 0o600});
        fs.renameSync(tmp, file);
        // Caches of other anemos versions are dead weight now.
        for (const old of fs.readdirSync(path.dirname(file))) {
          if (/^cli-.*\.v8$/.test(old) && old !== path.basename(file)) fs.rmSync(path.join(path.dirname(file), old), {force: true});
        }
      } catch {
        // read-only home, full disk: run without a cache
      }
    });
  }
  script.runInThisContext()(module.exports, require, module, filename, dirname);
}
