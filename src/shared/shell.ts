// Quoting for sh: a word that sh reads back as exactly the given string.

export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_\-./:=,+@%]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
