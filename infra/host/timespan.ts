/**
 * systemd's time spans as `systemctl show` prints them (CPUQuotaPerSecUSec=2.200000s,
 * 280ms, 2min 3.450000s): formatted so the create script can compare the text it reads
 * back, and parsed so the drift check compares numbers, not spellings.
 */

const UNITS: Array<[string, number]> = [
  ["y", 31_557_600_000_000],
  ["month", 2_629_800_000_000],
  ["w", 604_800_000_000],
  ["d", 86_400_000_000],
  ["h", 3_600_000_000],
  ["min", 60_000_000],
  ["s", 1_000_000],
  ["ms", 1_000],
  ["us", 1],
];
const MINUTE = 60_000_000;

/**
 * Microseconds as systemd's format_timespan(…, accuracy 1µs) writes them, which is what
 * `systemctl show` uses for CPUQuotaPerSecUSec: below a minute a remainder is written as a
 * decimal fraction of the largest unit (1.100000s, 27.500ms); above, units are listed.
 */
export function formatTimespan(usec: number): string {
  if (!Number.isSafeInteger(usec) || usec < 0) throw new Error(`${usec} is not a whole number of microseconds`);
  if (usec === 0) return "0";
  const words: string[] = [];
  let rest = usec;
  for (const [suffix, size] of UNITS) {
    if (rest <= 0) break;
    if (rest < size) continue;
    const whole = Math.floor(rest / size);
    const remainder = rest % size;
    const digits = String(size).length - 1;
    if (rest < MINUTE && remainder > 0 && digits > 0) {
      words.push(`${whole}.${String(remainder).padStart(digits, "0")}${suffix}`);
      rest = 0;
    } else {
      words.push(`${whole}${suffix}`);
      rest = remainder;
    }
  }
  return words.join(" ");
}

/** Microseconds of a span as systemd prints it; "infinity" is Infinity; undefined when unreadable. */
export function parseTimespan(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === "infinity") return Infinity;
  if (trimmed === "0") return 0;
  const sizes = new Map(UNITS);
  let total = 0;
  const words = trimmed.split(/\s+/);
  for (const word of words) {
    const match = /^(\d+(?:\.\d+)?)(y|month|w|d|h|min|s|ms|us)$/.exec(word);
    if (!match) return undefined;
    total += Number(match[1]) * sizes.get(match[2])!;
  }
  return words.length > 0 ? Math.round(total) : undefined;
}
