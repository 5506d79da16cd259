// Text that arrives in chunks (a child's output, a remote events.jsonl over SSH) cut into
// lines, with a bound: a peer that never sends a newline costs at most `max` characters of
// memory. An over-long line is given cut short, once, and the rest of it is skipped.

export class LineSplitter {
  private buffer = '';
  private skipping = false;

  constructor(private readonly max = 65536) {}

  /** The whole lines this chunk completes. */
  push(chunk: string): string[] {
    const lines: string[] = [];
    this.buffer += chunk;
    let i: number;
    while ((i = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, i).replace(/\r$/, '');
      this.buffer = this.buffer.slice(i + 1);
      if (this.skipping) this.skipping = false;
      else lines.push(line);
    }
    if (this.buffer.length > this.max) {
      if (!this.skipping) lines.push(`${this.buffer.slice(0, this.max)}… (line cut at ${this.max} characters)`);
      this.skipping = true;
      this.buffer = '';
    }
    return lines;
  }

  /** What is left at the end, when it is a line of its own. */
  end(): string[] {
    const rest = this.skipping ? '' : this.buffer;
    this.buffer = '';
    return rest ? [rest] : [];
  }
}

/** Each line of a readable stream, bounded (see LineSplitter). */
export function onLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void, max?: number): void {
  const s = new LineSplitter(max);
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => s.push(chunk).forEach(onLine));
  stream.on('end', () => s.end().forEach(onLine));
}
