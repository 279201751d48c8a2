/**
 * Small Node programs the load tests run inside containers (the test Node image has node and busybox only),
 * passed as `node -e <source>`, a shell snippet or two, plus the host-side reader of the heartbeat they write. Each is bounded: it
 * ends by itself after the time or size it is given.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { onTestFinished } from "vitest";

/**
 * A process that was running before the trouble started and must keep working through it: every 100 ms it
 * writes the time to /beat/<BEAT_NAME> (a host folder mounted at /beat). It needs no new process or thread
 * to do so, which is the point: under a full PID table it still runs, it just cannot fork.
 */
export const HEARTBEAT = `
const fs = require("node:fs");
const file = "/beat/" + (process.env.BEAT_NAME || "beat");
const beat = () => { fs.writeFileSync(file + ".tmp", String(Date.now())); fs.renameSync(file + ".tmp", file); };
beat();
setInterval(beat, 100);
process.on("SIGTERM", () => process.exit(0));
`;

/**
 * A shell snippet that prints the PID cap the process running it finds in its own cgroup: run as a
 * container's first command, it says whether the cap was in force before anything of the container ran.
 * cgroup v1 mounts the container's pids hierarchy at /sys/fs/cgroup/pids; v2 its own cgroup at /sys/fs/cgroup.
 */
export const FIRST_PROCESS_PIDS_MAX = "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max";

/**
 * A fork bomb that does not give up: spawns detached \`sleep 600\` children as fast as it can until
 * BOMB_MS has passed, counting the spawns that worked and the ones the kernel refused (EAGAIN), and prints
 * {"spawned":n,"refused":n,"otherErrors":{…}} as its last line. A shell bomb (\`b(){ b|b& };b\`) was tried
 * first and burns out in under a second once forks fail, which proves less.
 */
export const FORK_BOMB = `
const { spawn } = require("node:child_process");
const deadline = Date.now() + Number(process.env.BOMB_MS);
let spawned = 0, refused = 0;
const otherErrors = {};
const other = (code) => { otherErrors[code] = (otherErrors[code] || 0) + 1; };
function once() {
  if (Date.now() > deadline) {
    console.log(JSON.stringify({ spawned, refused, otherErrors }));
    process.exit(0);
  }
  try {
    const child = spawn("sleep", ["600"], { stdio: "ignore", detached: true });
    child.on("error", (e) => (e.code === "EAGAIN" ? refused++ : other(e.code)));
    child.on("spawn", () => spawned++);
    child.unref();
  } catch (e) {
    e.code === "EAGAIN" ? refused++ : other(e.code);
  }
  setImmediate(once);
}
once();
`;

/**
 * Allocates HOG_MIB MiB in 64 MiB buffers and writes to every page (a zero-filled Buffer is only mapped,
 * not resident, until written). Prints how far it got on stderr. With HOG_ONCE_MARK set, it hogs only if
 * that file does not exist yet (creating it first), and otherwise runs the HEARTBEAT: so a container whose
 * main process is the hog comes back from its restart as a working service, instead of looping.
 */
export const MEMORY_HOG = `
const fs = require("node:fs");
const mark = process.env.HOG_ONCE_MARK;
if (mark && fs.existsSync(mark)) {
  ${HEARTBEAT}
} else {
  if (mark) fs.writeFileSync(mark, String(Date.now()));
  const chunks = [];
  const total = Number(process.env.HOG_MIB);
  for (let mib = 0; mib < total; mib += 64) {
    chunks.push(Buffer.alloc(64 * 1024 * 1024).fill(1));
    if (mib % 1024 === 0) process.stderr.write("allocated " + (mib + 64) + " MiB\\n");
  }
  process.stderr.write("allocated all " + total + " MiB without being killed\\n");
  process.exit(3);
}
`;

/** Milliseconds since the heartbeat `name` in `dir` last wrote; Infinity if it never did. */
export function heartbeatAgeMs(dir: string, name = "beat"): number {
  try {
    return Date.now() - Number(fs.readFileSync(path.join(dir, name), "utf8"));
  } catch {
    return Infinity;
  }
}

/**
 * Samples the heartbeat every `everyMs` until `stop` is called (or the test finishes); resolves to the largest
 * age seen, i.e. the longest the process went without writing (plus up to one interval). Call inside a test.
 */
export function watchHeartbeat(dir: string, name = "beat", everyMs = 100): { stop(): Promise<number> } {
  let worst = 0;
  let stopped = false;
  const deadline = Date.now() + 5 * 60_000; // bounded even if a test forgets to stop it
  const loop = (async () => {
    while (!stopped && Date.now() < deadline) {
      worst = Math.max(worst, heartbeatAgeMs(dir, name));
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  const stop = async () => {
    stopped = true;
    await loop;
    return worst;
  };
  onTestFinished(async () => {
    await stop();
  }); // stops with the test even if the test fails first
  return { stop };
}
