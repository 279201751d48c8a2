/**
 * Sizes and CPU counts in the units people write in stack files ("512m", "4g", "1.5").
 *
 * Docker's own suffixes are binary (1g = 1024 MiB), so we follow them: a value that
 * means 4 GiB to `docker run --memory 4g` means the same here.
 */

const MIB = 1024 * 1024;

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  k: 1024,
  m: MIB,
  g: 1024 * MIB,
  t: 1024 * 1024 * MIB,
};

/** Accepts 512m, 4g, 1.5g, 64MiB, 2GB, 100k (case-insensitive, binary multiples). */
const SIZE_PATTERN = /^\s*(\d+(?:\.\d+)?)\s*([bkmgt])(?:i?b)?\s*$/i;

/** Bytes for a size like "4g", or undefined when the text is not a size with a unit. */
export function parseSize(text: string): number | undefined {
  const match = SIZE_PATTERN.exec(text);
  if (!match) return undefined;
  const [, amount, unit] = match;
  const bytes = Number(amount) * SIZE_UNITS[unit.toLowerCase()];
  return Number.isFinite(bytes) ? Math.round(bytes) : undefined;
}

/** Whole MiB, the unit @pulumi/docker takes for memory and memorySwap. */
export function bytesToMiB(bytes: number): number {
  return Math.floor(bytes / MIB);
}

/** "4g" for 4 GiB, "1536m" for 1.5 GiB: the shortest exact form, for outputs and unit files. */
export function formatSize(bytes: number): string {
  for (const unit of ["t", "g", "m", "k"] as const) {
    const size = SIZE_UNITS[unit];
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}b`;
}

/** A CPU count such as 2, "1.5" or "0.25"; undefined when it is not a positive decimal. */
export function parseCpus(value: string | number): number | undefined {
  const text = String(value).trim();
  if (!/^\d+(\.\d+)?$/.test(text)) return undefined;
  return Number(text);
}
