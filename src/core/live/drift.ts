// Drift on a live host: what differs from the image it booted. Every write lands in the
// overlay's upper directory (a tmpfs, src/agent/live.ts), so the drift is that directory,
// each entry classed against the lower layers (this host's layer, then the image's, top
// first): not in any, added; in one, changed; an overlayfs whiteout (a 0:0 character
// device), removed. Directories that are in a lower layer are where changes sit, not
// changes. A directory removed and made again is opaque (an overlayfs attribute the host's
// sh cannot read): what the image had in it and the running system no longer shows is
// removed, found by comparing with the image's read-only view the live mode mounts
// (image/, src/agent/live.ts); a persist: disk mounted there is not the image's and is left
// out. The script runs on the live host (here or over SSH) with its
// own tools.

export const LIVE_RUN_DIR = '/run/anemos/live';

/** Prints one line per upper entry: type, size, in a lower layer (0/1), whiteout (0/1), path; and one per entry of the image a directory made again hides ("o", as a whiteout). Exit 3: not a live system. */
export const DRIFT_SCRIPT = `set -eu
live=${LIVE_RUN_DIR}
root=
if [ ! -d "$live/rw/upper" ]; then echo "this system was not booted live by anemos: $live/rw/upper does not exist" >&2; exit 3; fi
lowers="$live/host/upper"
for d in $(ls -d "$live"/layers/* 2>/dev/null | sort -r); do lowers="$lowers $d"; done
rootdev=$(stat -c %d "$root/")
cd "$live/rw/upper"
find . -mindepth 1 -printf '%y %s %P\\n' | while read -r t s p; do
  lower=0
  for l in $lowers; do if [ -e "$l/$p" ] || [ -L "$l/$p" ]; then lower=1; break; fi; done
  wo=0
  if [ "$t" = c ] && [ "$(stat -c %t:%T "$p")" = 0:0 ]; then wo=1; fi
  printf '%s\\t%s\\t%s\\t%s\\t%s\\n' "$t" "$s" "$lower" "$wo" "$p"
  if [ "$t" = d ] && [ "$lower" = 1 ] && [ -d "$live/image/$p" ] && [ "$(stat -c %d "$root/$p")" = "$rootdev" ]; then
    ls -A "$live/image/$p" | while IFS= read -r n; do
      if [ ! -e "$p/$n" ] && [ ! -L "$p/$n" ] && [ ! -e "$root/$p/$n" ] && [ ! -L "$root/$p/$n" ]; then printf 'o\\t0\\t1\\t1\\t%s\\n' "$p/$n"; fi
    done
  fi
done
`;

export type DriftKind = 'added' | 'changed' | 'removed';
export type DriftType = 'file' | 'dir' | 'link' | 'other';

export interface DriftEntry {
  path: string;
  kind: DriftKind;
  type: DriftType;
  /** Bytes now (0 for what was removed). */
  size: number;
}

const TYPES: Record<string, DriftType> = {f: 'file', d: 'dir', l: 'link'};

/** DRIFT_SCRIPT's output as entries, sorted by path; lines it did not write are skipped. */
export function parseDrift(text: string): DriftEntry[] {
  const out: DriftEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z])\t(\d+)\t([01])\t([01])\t(.+)$/.exec(line);
    if (!m) continue;
    const [, t, size, lower, whiteout, path] = m;
    const type = TYPES[t!] ?? 'other';
    if (whiteout === '1') out.push({path: `/${path}`, kind: 'removed', type: 'other', size: 0});
    else if (lower === '0') out.push({path: `/${path}`, kind: 'added', type, size: type === 'dir' ? 0 : Number(size)});
    else if (type !== 'dir') out.push({path: `/${path}`, kind: 'changed', type, size: Number(size)});
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Below an added directory, its entries are added too: listed once, as the directory with its total. */
export function foldAdded(entries: DriftEntry[]): (DriftEntry & {entries?: number})[] {
  const out: (DriftEntry & {entries?: number})[] = [];
  for (const e of entries) {
    const top = out.at(-1);
    if (top && top.kind === 'added' && top.type === 'dir' && e.path.startsWith(`${top.path}/`)) {
      top.size += e.size;
      top.entries = (top.entries ?? 0) + 1;
      continue;
    }
    out.push({...e});
  }
  return out;
}

export function driftSummary(entries: DriftEntry[]): {added: number; changed: number; removed: number; bytes: number} {
  const n = (k: DriftKind) => entries.filter((e) => e.kind === k).length;
  return {added: n('added'), changed: n('changed'), removed: n('removed'), bytes: entries.reduce((s, e) => s + e.size, 0)};
}

export const NO_DRIFT = "No drift: the system is the image it booted (with this host's own layer).";
export const DRIFT_MARK = {added: '+', changed: '~', removed: '-'} as const;

/** One folded entry's path (a directory with its /) and its size, as listings and pages show them. */
export const driftPath = (e: DriftEntry) => `${e.path}${e.type === 'dir' ? '/' : ''}`;
export const driftSize = (e: DriftEntry & {entries?: number}) => (e.kind === 'removed' ? '' : `${e.size} bytes${e.entries ? ` in ${e.entries + 1} entries` : ''}`);
export const driftTotals = (s: ReturnType<typeof driftSummary>) => `${s.added} added, ${s.changed} changed, ${s.removed} removed; ${s.bytes} bytes written since boot (gone at the next reboot).`;

export function renderDrift(entries: DriftEntry[]): string[] {
  if (!entries.length) return [NO_DRIFT];
  const lines = foldAdded(entries).map((e) => `${DRIFT_MARK[e.kind]} ${driftPath(e)}${e.kind === 'removed' ? '' : `  ${driftSize(e)}`}`);
  return [...lines, driftTotals(driftSummary(entries))];
}
