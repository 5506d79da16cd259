// The one Range request the boot listener answers: a single byte range of a file it serves
// from an ISO (installers that fetch by ranges, resumed downloads); several ranges get the whole.

/** One byte range of a Range header (bytes=A-B, A-, -N), as [start, end); undefined for none or several (the whole is sent). */
export function rangeOf(header: string | undefined, size: number): [number, number] | 'unsatisfiable' | undefined {
  const m = header?.match(/^bytes=(\d*)-(\d*)$/);
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const n = Math.min(Number(m[2]), size);
    return n === 0 ? 'unsatisfiable' : [size - n, size];
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size : Math.min(Number(m[2]) + 1, size);
  if (start >= size || end <= start) return 'unsatisfiable';
  return [start, end];
}
