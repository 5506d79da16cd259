// Small list helpers the planners share.

/** The items in their first order, each once. */
export function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}
