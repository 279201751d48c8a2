/**
 * What the command-line scripts (verify, verify-host, e2e:metamcp) share when they read their arguments:
 * the error that means "the arguments are wrong" (printed with the usage, exit 2), and a walk over argv
 * that takes a flag's value from the argument after it.
 */
export class UsageError extends Error {}

/** argv, one argument at a time. */
export class ArgList {
  private index = -1;

  constructor(private readonly argv: readonly string[]) {}

  /** The next argument, or undefined after the last. */
  next(): string | undefined {
    return this.argv[++this.index];
  }

  /** The value of `flag`, the argument after it; a UsageError when there is none or it is an option (`-h` too). */
  value(flag: string): string {
    const value = this.argv[++this.index];
    if (value === undefined || value.startsWith("-")) throw new UsageError(`${flag} needs a value`);
    return value;
  }
}
