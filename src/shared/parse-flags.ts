// A small stand-in for Node's util.parseArgs (string options only), for the agent's
// anemos-netconf and anemos-configure, which run on QuickJS. Same contract for what they
// use: --name VALUE and --name=VALUE, defaults, positionals, an error for an unknown
// option or a missing value.

export type FlagSpec = Record<string, {type: 'string'; default?: string}>;

export function parseFlags<S extends FlagSpec>(args: string[], options: S): {values: {[K in keyof S]?: string}; positionals: string[]} {
  const values: Record<string, string> = {};
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!a.startsWith('--') || a === '-') {
      if (a.startsWith('-') && a !== '-') throw new Error(`Unknown option '${a}'`);
      positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    if (!Object.hasOwn(options, name)) throw new Error(`Unknown option '--${name}'`);
    if (eq >= 0) values[name] = a.slice(eq + 1);
    else if (i + 1 < args.length && !args[i + 1]!.startsWith('-')) values[name] = args[++i]!;
    else throw new Error(`Option '--${name} <value>' argument missing`);
  }
  for (const [name, o] of Object.entries(options)) if (values[name] === undefined && o.default !== undefined) values[name] = o.default;
  return {values: values as {[K in keyof S]?: string}, positionals};
}
