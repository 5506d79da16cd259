import {describe, expect, it} from 'vitest';
import {terminalLine, terminalLines} from './terminal-text.js';

describe('text from a remote machine, for a terminal', () => {
  it('takes the effect out of escape sequences: the clipboard, the title, the screen', () => {
    const osc52 = 'payload done\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07';
    expect(terminalLine(osc52)).toBe('payload done\\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\\x07');
    expect(terminalLine('\x1b]0;pwned\x1b\\title')).toBe('\\x1b]0;pwned\\x1b\\title');
    expect(terminalLine('\x1b[2J\x1b[Hclean')).toBe('clean');
    expect(terminalLine('\x1b[1;31mred\x1b[0m text')).toBe('red text');
    expect(terminalLine('8-bit \x9b2J csi')).toBe('8-bit  csi');
    expect(terminalLine('bell\x07 back\x08space del\x7f')).toBe('bell\\x07 back\\x08space del\\x7f');
    expect(terminalLine('a\rb\nc')).toBe('a\\x0db\\x0ac');
    expect(terminalLine('tab\tkept')).toBe('tab\tkept');
    expect(terminalLine('rm -rf /\u202e#txt.sh')).toBe('rm -rf /\\u202e#txt.sh');
    expect(terminalLine('ünïcode ✓ stays')).toBe('ünïcode ✓ stays');
  });

  it('caps a line, and says how much was cut', () => {
    expect(terminalLine('x'.repeat(5000))).toBe(`${'x'.repeat(4096)}… (904 more characters)`);
    expect(terminalLine('abcdef', 3)).toBe('abc… (3 more characters)');
  });

  it('keeps the last lines of long output, each made safe', () => {
    const text = Array.from({length: 5}, (_, i) => `line ${i}\x1b]52;c;x\x07`).join('\r\n');
    expect(terminalLines(text, 2)).toBe('… (3 earlier lines)\nline 3\\x1b]52;c;x\\x07\nline 4\\x1b]52;c;x\\x07');
  });
});
