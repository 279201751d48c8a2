/**
 * Quoting for POSIX sh. Every value that reaches a remote shell goes through here, so a
 * description, a unit name or a future setting can never be read as shell syntax.
 */

/** One shell word: single-quoted, with embedded single quotes closed, escaped and reopened. */
export function shellQuote(value: string | number): string {
  const text = String(value);
  if (text.includes("\0")) throw new Error("a NUL byte cannot be passed to a shell");
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * The command line an SSH server runs for `script`: always under `sh -c`, so the remote
 * user's login shell only has to parse one quoted word; under `sudo -n` for a non-root user,
 * so a missing sudo rule fails at once with a message instead of waiting for a password.
 */
export function remoteCommand(script: string, user: string): string {
  const run = `sh -c ${shellQuote(script)}`;
  if (user === "root") return run;
  const refuse =
    `echo "metamcp-guard: user $(id -un) on $(hostname) cannot run sudo without a password;` +
    ` metamcp-guard needs root on the host to write /etc/systemd/system and run systemctl" >&2; exit 1`;
  return `if sudo -n true 2>/dev/null; then sudo -n ${run}; else ${refuse}; fi`;
}

/**
 * Lines that write `text` to `path` atomically: a temp file in the same directory, renamed over
 * the old one, so systemd (or a timer firing mid-write) never reads half a file. The caller's
 * script must `set -eu`; the temp file is removed on any exit.
 */
export function writeFileLines(path: string, text: string): string[] {
  const lines = text.split("\n");
  if (lines.at(-1) !== "") throw new Error(`${path}: the text must end with a newline`);
  return [
    `target=${shellQuote(path)}`,
    'tmp="${target%/*}/.${target##*/}.metamcp-guard.$$"',
    "trap 'rm -f \"$tmp\"' EXIT",
    "umask 022",
    `printf '%s\\n' ${lines.slice(0, -1).map(shellQuote).join(" ")} > "$tmp"`,
    'mv -f "$tmp" "$target"',
  ];
}
