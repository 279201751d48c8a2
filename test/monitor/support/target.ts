/**
 * A stand-in for MetaMCP's container on a real engine, and the monitor container that watches it.
 *
 * The target runs busybox scripts that reproduce what the monitor must tell apart:
 *   PID 1            /bin/sh /fake/entrypoint.sh   (the image's shell entrypoint; collects orphans)
 *   main server      /bin/sh /fake/metamcp-server  (spawns every MCP group detached, like MetaMCP)
 *   live groups      /bin/sh /fake/npm exec @modelcontextprotocol/server-live-N → /bin/sh /fake/node … → sleep
 *   leaked groups    the same, but the leader exits at once: its server is re-parented to PID 1
 *   stubborn leak    a leaked server that ignores SIGTERM, so only SIGKILL ends it
 *   re-parented      a live leader whose parent (a wrapper) exited
 *   zombies          two exited children of a parent that never waits, in the server's session
 * The benchmark swaps in a server that starts many live groups (benchServer).
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { docker, runTestContainer } from "../../support/dockerCli";
import { freePort } from "../../support/net";
import { waitUntil } from "../../support/wait";

export const LIVE_GROUPS = ["live-1", "live-2", "live-3", "live-4"];
export const LEAKED_GROUPS = ["leak-1", "leak-2", "stubborn"];
export const REPARENTED_GROUP = "reparented";
export const MAIN_PATTERN = "^/bin/sh /fake/metamcp-server$";

/** Timings the real-engine suites run the monitor with: scans every 500 ms, a 2 s orphan grace. */
export const TEST_INTERVAL_MS = 500;
export const TEST_GRACE_MS = 2000;
export const TEST_MONITOR_ENV: Record<string, string> = {
  MONITOR_INTERVAL: `${TEST_INTERVAL_MS}ms`,
  MONITOR_ORPHAN_GRACE: `${TEST_GRACE_MS}ms`,
  MONITOR_KILL_GRACE: "1s",
  MONITOR_MAIN_PATTERN: MAIN_PATTERN,
};

/** The server the tests run: a few groups of every kind. */
export const TEST_SERVER = `#!/bin/sh
# Live servers, oldest first (a start time apart, so "oldest" is well defined).
for name in ${LIVE_GROUPS.join(" ")}; do
  setsid /bin/sh /fake/npm exec @modelcontextprotocol/server-$name &
  sleep 0.2
done
# Leaked servers: the leader exits and its server lives on.
setsid /bin/sh /fake/npm-leaky exec @modelcontextprotocol/server-leak-1 &
setsid /bin/sh /fake/npm-leaky exec @modelcontextprotocol/server-leak-2 &
setsid /bin/sh /fake/npm-leaky exec @modelcontextprotocol/server-stubborn --ignore-term &
# A leader whose parent exits: re-parented away from the server.
/bin/sh -c 'setsid /bin/sh /fake/npm exec @modelcontextprotocol/server-${REPARENTED_GROUP} & exit 0' &
# Two zombies under a parent that never waits.
/bin/sh -c 'sleep 0 & sleep 0 & exec sleep 100000' &
echo spawned
wait
`;

/** A server with `groups` live MCP groups of three processes each (npm → node → sleep), for the benchmark. */
export function benchServer(groups: number): string {
  return `#!/bin/sh
i=0
while [ $i -lt ${groups} ]; do
  setsid /bin/sh /fake/npm exec @modelcontextprotocol/server-$i &
  i=$((i + 1))
done
echo spawned
wait
`;
}

const SCRIPTS: Record<string, string> = {
  // PID 1. On SIGUSR1 it leaks a group of its own, so a benchmark can time leak-to-reap from outside;
  // on SIGUSR2 it starts a runaway: 40 plain processes in a session of their own, matching no MCP pattern.
  "entrypoint.sh": `#!/bin/sh
trap 'exit 0' TERM
trap 'setsid /bin/sh /fake/npm-leaky exec @modelcontextprotocol/server-leak-on-signal &' USR1
trap 'setsid /bin/sh /fake/runaway &' USR2
/bin/sh /fake/metamcp-server &
while :; do sleep 1; done
`,
  runaway: `#!/bin/sh
i=1
while [ $i -lt 40 ]; do sleep 100003 & i=$((i+1)); done
wait
`,
  // Credentials in its command line, as a wrapper script might be given them: it starts a server
  // detached, then idles as a process that never collects its children (two zombies).
  wrapper: `#!/bin/sh
setsid /bin/sh /fake/npm exec @modelcontextprotocol/server-wrapped "$@" &
sleep 0 &
sleep 0 &
exec tail -f -- /dev/null "$@"
`,
  npm: `#!/bin/sh
/bin/sh /fake/node /fake/mcp-server "$@" &
wait
`,
  "npm-leaky": `#!/bin/sh
/bin/sh /fake/node /fake/mcp-server "$@" &
exit 0
`,
  // --helper: starts two detached helpers matching no pattern, as browsers are launched: one its
  // child in a session of its own (setsid), one left under PID 1 at once (a double fork).
  node: `#!/bin/sh
case "$*" in *--ignore-term*) trap '' TERM ;; esac
case "$*" in *--helper*) setsid sleep 100001 & setsid /bin/sh -c 'sleep 100002 & exit 0' ;; esac
sleep 100000 &
wait
`,
};

/** Writes the scripts, with `server` as the main server, to a fresh folder (mounted read-only at /fake). */
export function writeTargetScripts(server = TEST_SERVER): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "monitor-target-"));
  for (const [name, text] of Object.entries({ ...SCRIPTS, "metamcp-server": server })) {
    fs.writeFileSync(path.join(dir, name), text, { mode: 0o755 });
  }
  fs.chmodSync(dir, 0o755);
  return dir;
}

/** Starts the target as uid 1001 (MetaMCP's) and waits until its groups are spawned. */
export async function startTarget(image: string, scriptsDir: string, pidsLimit = 200, spawnTimeoutMs = 10_000): Promise<string> {
  const id = await runTestContainer(
    "--network", "none", "--user", "1001:1001", "--pids-limit", String(pidsLimit),
    "-v", `${scriptsDir}:/fake:ro`,
    image, "/bin/sh", "/fake/entrypoint.sh",
  );
  await waitUntil(async () => (await docker("logs", id)).includes("spawned"), spawnTimeoutMs, "target to spawn its groups");
  // The live groups' spawn loop sleeps between leaders; give the last ones time to exec.
  await new Promise((resolve) => setTimeout(resolve, 500));
  return id;
}

/** Node's flags as monitor/Dockerfile's ENTRYPOINT passes them. */
export const MONITOR_NODE_FLAGS = ["--max-semi-space-size=1", "--single-threaded"];

export interface MonitorRun {
  id: string;
  port: number;
}

/**
 * Starts the monitor as the stack deploys it: in the target's PID namespace, uid 0 with every
 * capability dropped but KILL, read-only root, no-new-privileges, its own small limits, restart
 * always. Host network, with /metrics on 127.0.0.1 only.
 */
export async function startMonitor(
  nodeImage: string,
  buildDir: string,
  target: string,
  env: Record<string, string>,
  user = "0:0",
): Promise<MonitorRun> {
  const port = await freePort();
  const envArgs = Object.entries({ MONITOR_METRICS_HOST: "127.0.0.1", MONITOR_METRICS_PORT: String(port), ...env }).flatMap(
    ([k, v]) => ["-e", `${k}=${v}`],
  );
  const id = await runTestContainer(
    "--pid", `container:${target}`,
    "--user", user,
    "--cap-drop", "ALL", "--cap-add", "KILL",
    "--read-only",
    "--security-opt", "no-new-privileges",
    "--memory", "128m", "--memory-swap", "128m", "--pids-limit", "16",
    "--network", "host",
    "--restart", "always",
    "-v", `${buildDir}:/app:ro`,
    ...envArgs,
    nodeImage, "node", ...MONITOR_NODE_FLAGS, "/app/dist/main.js",
  );
  await waitUntil(async () => (await fetchText(port, "/healthz"))?.status === 200, 15_000, "monitor /healthz");
  return { id, port };
}

/** The monitor's audit log: its stdout, one JSON object per line. */
export async function auditLines(monitorId: string): Promise<Array<Record<string, any>>> {
  const out = await docker("logs", monitorId);
  return out
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, any>);
}

export interface PsLine {
  pid: number;
  ppid: number;
  sid: number;
  stat: string;
  args: string;
}

/** The target's process table as its own `ps` shows it (the exec'd ps itself left out). */
export async function targetProcesses(target: string): Promise<PsLine[]> {
  const out = await docker("exec", target, "ps", "-o", "pid,ppid,sid,stat,args");
  return out
    .split("\n")
    .slice(1)
    .map((line) => /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), sid: Number(m[3]), stat: m[4], args: m[5] }))
    .filter((p) => !p.args.startsWith("ps -o"));
}

/** Start time (ticks after boot) of a process in the target, read from its /proc. */
export async function startTimeOf(target: string, pid: number): Promise<string> {
  const stat = await docker("exec", target, "cat", `/proc/${pid}/stat`);
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
}

export async function fetchText(port: number, urlPath: string): Promise<{ status: number; text: string } | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${urlPath}`, { signal: AbortSignal.timeout(2000) });
    return { status: res.status, text: await res.text() };
  } catch {
    return undefined;
  }
}

