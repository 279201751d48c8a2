/**
 * A MetaMCP stand-in that leaks MCP server groups at a steady rate, as the real one does: every server is
 * spawned detached (own session and process group, `setsid`) through an `npm exec` wrapper; a live server's
 * wrapper waits on it, a leaked one's wrapper exits at once and leaves its server (a `node …mcp-server`
 * shell and the sleeps that stand for a real server's tasks) re-parented to PID 1. Busybox shell scripts,
 * mounted read-only at /load.
 *
 * The server prints one line per group it starts, which the tests read from `docker logs`:
 *     live <n> <sid>     leak <n> <sid>     leaks-done
 * (the sid is the wrapper's pid: `setsid` from a non-interactive shell execs in place).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** The server's command line, for MONITOR_MAIN_PATTERN. */
export const LEAK_MAIN_PATTERN = "^/bin/sh /load/metamcp-server$";
/**
 * Sleeps a server runs: a real MCP server group holds 23 tasks (Node's threads), so a stand-in with
 * one sleep would leak far less than the real one against the same PID cap.
 */
const SLEEPS_PER_SERVER = 9;
/** Processes one leaked group leaves behind: the server shell and its sleeps. */
export const PROCESSES_PER_LEAK = 1 + SLEEPS_PER_SERVER;
/** Processes of a live group: its npm wrapper, the server shell and its sleeps. */
export const PROCESSES_PER_LIVE = 2 + SLEEPS_PER_SERVER;

const SCRIPTS: Record<string, string> = {
  // LIVE: groups kept alive throughout; LEAKS: how many to leak; LEAK_EVERY: seconds between leaks.
  "metamcp-server": `#!/bin/sh
trap 'exit 0' TERM
n=0
while [ $n -lt "$LIVE" ]; do
  n=$((n+1))
  setsid /bin/sh /load/npm exec @modelcontextprotocol/server-live-$n &
  echo "live $n $!"
done
i=0
while [ $i -lt "$LEAKS" ]; do
  i=$((i+1))
  setsid /bin/sh /load/npm-leaky exec @modelcontextprotocol/server-leak-$i &
  echo "leak $i $!"
  sleep "$LEAK_EVERY"
done
echo leaks-done
while :; do sleep 1; done
`,
  npm: `#!/bin/sh
/bin/sh /load/node /load/mcp-server "$@" &
wait
`,
  "npm-leaky": `#!/bin/sh
/bin/sh /load/node /load/mcp-server "$@" &
exit 0
`,
  node: `#!/bin/sh
i=0
while [ $i -lt ${SLEEPS_PER_SERVER} ]; do i=$((i+1)); sleep 100000 & done
wait
`,
};

/** Writes the scripts to a fresh folder; mount it read-only at /load. */
export function writeLeakScripts(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "metamcp-guard-leak-"));
  for (const [name, text] of Object.entries(SCRIPTS)) fs.writeFileSync(path.join(dir, name), text, { mode: 0o755 });
  fs.chmodSync(dir, 0o755);
  return dir;
}

export interface LeakLog {
  live: Map<number, number>;
  leaks: Map<number, number>;
  done: boolean;
}

/** The groups the server reports having started, by number → sid (pure). */
export function parseLeakLog(text: string): LeakLog {
  const log: LeakLog = { live: new Map(), leaks: new Map(), done: false };
  for (const line of text.split("\n")) {
    const match = /^(live|leak) (\d+) (\d+)$/.exec(line.trim());
    if (match) (match[1] === "live" ? log.live : log.leaks).set(Number(match[2]), Number(match[3]));
    if (line.trim() === "leaks-done") log.done = true;
  }
  return log;
}
