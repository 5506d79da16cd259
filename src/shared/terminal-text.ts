// Text that came from another machine (event messages, command output, host names), made
// safe for the operator's terminal: escape sequences cannot write the clipboard (OSC 52),
// retitle the window, clear the screen or hide text, and a line has a length cap. Colours
// and cursor moves (CSI) are dropped; every other control character is shown as \xNN, so
// an attempt stays visible without taking effect.

/** Characters kept of one line; a remote peer can send a megabyte without a newline. */
export const MAX_LINE = 4096;

// CSI: ESC [ (or the 8-bit 0x9b), parameters, intermediates, one final byte.
const CSI = /(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]/g;
// C0 but tab, DEL, C1, and the bidirectional overrides that reorder what is shown (CVE-2021-42574).
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;

const visible = (c: string) => {
  const n = c.charCodeAt(0);
  return n > 0xff ? `\\u${n.toString(16).padStart(4, '0')}` : `\\x${n.toString(16).padStart(2, '0')}`;
};

/** One line for a terminal: no escape sequence takes effect, no newline inside, at most `max` characters. */
export function terminalLine(text: string, max = MAX_LINE): string {
  const s = String(text).replace(CSI, '').replace(CONTROL, visible);
  return s.length > max ? `${s.slice(0, max)}… (${s.length - max} more characters)` : s;
}

/** Several lines (command output): each one made safe, at most `maxLines` of them (the last ones). */
export function terminalLines(text: string, maxLines = 200, max = MAX_LINE): string {
  const lines = String(text).replace(/\r\n/g, '\n').split('\n');
  const cut = lines.length > maxLines ? [`… (${lines.length - maxLines} earlier lines)`, ...lines.slice(-maxLines)] : lines;
  return cut.map((l) => terminalLine(l, max)).join('\n');
}
