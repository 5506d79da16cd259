// Progress for long work: a redrawn bar on a TTY, plain lines (every 10 %) otherwise.

export interface ProgressSink {
  update(label: string, done: number, total?: number): void;
  finish(label: string, text: string): void;
}

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

export function makeProgress(stream: NodeJS.WriteStream = process.stderr): ProgressSink {
  const tty = Boolean(stream.isTTY);
  const lastDecile = new Map<string, number>();
  return {
    update(label, done, total) {
      const pct = total ? Math.floor((done / total) * 100) : undefined;
      if (tty) {
        const width = 30;
        const bar = pct === undefined ? '' : `[${'#'.repeat(Math.round((pct / 100) * width)).padEnd(width, '.')}] ${String(pct).padStart(3)}% `;
        stream.write(`\r${label}: ${bar}${mib(done)}${total ? ` / ${mib(total)}` : ''}\x1b[K`);
        return;
      }
      const decile = pct === undefined ? Math.floor(done / (10 * 1048576)) : Math.floor(pct / 10);
      if (lastDecile.get(label) === decile) return;
      lastDecile.set(label, decile);
      stream.write(`${label}: ${pct !== undefined ? `${pct}% ` : ''}${mib(done)}${total ? ` of ${mib(total)}` : ''}\n`);
    },
    finish(label, text) {
      stream.write(`${tty ? '\r' : ''}${label}: ${text}${tty ? '\x1b[K' : ''}\n`);
    },
  };
}
