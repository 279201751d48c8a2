/**
 * A stand-in `docker` CLI for the keeper's tests, where no engine is wanted (or, on the systemd
 * test host, none exists). It answers `inspect … -f "{{.State.Status}}" <name>` from
 * `<state dir>/<name>` (no file: "No such object", exit 1), and records each `start <name>` in
 * `<state dir>/calls`; a start succeeds (the status becomes running) unless the state file says
 * `exited-nostart`, which makes it fail the way Docker does when the namespace is gone.
 */
export function fakeDockerScript(stateDir: string): string {
  return [
    "#!/bin/sh",
    `dir='${stateDir}'`,
    'echo "$*" >> "$dir/calls"',
    'for last in "$@"; do :; done',
    'case "$1" in',
    "  inspect)",
    '    if [ ! -f "$dir/$last" ]; then echo "Error: No such object: $last" >&2; exit 1; fi',
    '    sed "s/-nostart$//" "$dir/$last" ;;',
    "  start)",
    '    if [ "$(cat "$dir/$last" 2>/dev/null)" = exited-nostart ]; then',
    '      echo "Error response from daemon: cannot join network of a non running container" >&2; exit 1',
    "    fi",
    '    echo running > "$dir/$last"; echo "$last" ;;',
    '  *) echo "fake docker: unexpected: $*" >&2; exit 2 ;;',
    "esac",
    "",
  ].join("\n");
}
