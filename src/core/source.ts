// Random access to bytes (a file, or a buffer in tests): what the ISO 9660 and tar readers read through.

export interface Source {
  size: number;
  read(offset: number, length: number): Promise<Buffer>;
}

/** A Source over bytes in memory. */
export function bufferSource(b: Buffer): Source {
  return {size: b.length, read: async (offset, length) => b.subarray(offset, offset + length)};
}
