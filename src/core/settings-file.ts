// A command's settings in a file (anemos serve's /etc/anemos/serve.yaml): the keys are the
// command's long flag names, the values what the flag takes. What the file says becomes
// flags, except where the command line or the flag's environment variable says otherwise:
// flag > environment > file > default.

export interface FlagSpec {
  type: 'boolean' | 'option';
  env?: string;
  multiple?: boolean;
}

export interface SettingsProblem {
  key: string;
  message: string;
}

const given = (argv: string[], name: string) => argv.some((a) => a === `--${name}` || a.startsWith(`--${name}=`));

/** The flags a settings file adds to argv (to be placed before it), and what is wrong in it. */
export function settingsArgs(settings: unknown, flags: Record<string, FlagSpec>, argv: string[], env: Record<string, string | undefined>): {args: string[]; problems: SettingsProblem[]} {
  const problems: SettingsProblem[] = [];
  const args: string[] = [];
  if (settings === null || settings === undefined) return {args, problems};
  if (typeof settings !== 'object' || Array.isArray(settings)) return {args, problems: [{key: '(file)', message: 'is not a mapping of flag names to values (listen: 0.0.0.0:8443)'}]};
  for (const [key, value] of Object.entries(settings as Record<string, unknown>)) {
    const spec = flags[key];
    if (!spec) {
      problems.push({key, message: `is not a setting of this command (the settings are its long flags: ${Object.keys(flags).sort().join(', ')})`});
      continue;
    }
    if (given(argv, key) || (spec.env && env[spec.env] !== undefined && env[spec.env] !== '')) continue;
    if (spec.type === 'boolean') {
      if (typeof value !== 'boolean') problems.push({key, message: 'must be true or false'});
      else if (value) args.push(`--${key}`);
      continue;
    }
    const values = Array.isArray(value) && spec.multiple ? value : [value];
    for (const v of values) {
      if (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) args.push(`--${key}=${v}`);
      else problems.push({key, message: spec.multiple ? 'must be a string, a number or a list of them' : 'must be a string or a number'});
    }
  }
  return {args, problems};
}
