/**
 * `npm run bench -- monitor`: the process monitor against the stop-gap it replaces, side by side, in one run,
 * on the same busybox container holding 1,000 and then 5,000 processes shaped like MCP servers
 * (npm exec → sh → sleep, each group its own session under a main server).
 *
 *   stop-gap tick   `docker exec <target> ps aux | grep -E 'npm exec|@modelcontextprotocol' | wc -l`
 *                   plus `docker stats --no-stream <target>`, as the operator's shell loop ran them.
 *                   CPU = the CLI processes (bash `times`) + what dockerd, containerd and the shims
 *                   spent meanwhile (their /proc times, children included: the exec'd ps is one).
 *   monitor         the real program (dist/main.js) in its own container joined to the target's PID
 *                   namespace, as the stack runs it, in dry-run (and with the cap off, its default) so it only scans and decides.
 *                   CPU per scan = its process's CPU time over a run of scans / the scans it made
 *                   (scrapes of /metrics included); wall = its scan_duration gauge; RSS = VmRSS/VmHWM.
 *   leak-to-reap    at the default interval (5 s) and orphan grace (30 s), the time from a leak
 *                   appearing (PID 1 leaks a group on SIGUSR1) to the monitor's decision to reap it.
 *   hostile row     1,000 processes with 64 KiB command lines ("/node " repeated, what stalled the
 *                   pattern the defaults replaced; each distinct), each in a session of its own under
 *                   the main server: the same figures, the first scan's wall time and the scans cut short.
 *
 * Prints figures; asserts nothing (machines differ). Targets from the issue are printed beside them.
 * Needs a Docker engine (scripts/start-docker.sh).
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as dockerSupport from "../test/support/dockerCli";
import * as images from "../test/support/images";
import * as buildSupport from "../test/monitor/support/build";
import * as prom from "../test/monitor/support/prom";
import * as targetSupport from "../test/monitor/support/target";
import * as wait from "../test/support/wait";

const SIZES = [1000, 5000];
const HOSTILE_PROCESSES = 1000;
const TARGETS = { cpuMsAt1000: 25, cpuMsAt5000: 60, rssMiBAt5000: 64 };
const STOP_GAP_TICKS = 3;
const MEASURED_SCANS = 16;
const MEASURE_INTERVAL_MS = 500;
const TICKS_PER_SECOND = 100;
const STEADY_SECONDS = 30;

const { docker } = dockerSupport;

interface StopGapFigures {
  count: number;
  cliCpuMs: number;
  daemonCpuMs: number;
  wallMs: number;
}

interface MonitorFigures {
  /** Wall time of the first scan (every command line read and matched once). */
  firstScanMs: number;
  scansCutShort: number;
  scans: number;
  cpuMsPerScan: number;
  wallMsPerScan: number;
  /** After the measured run of back-to-back scans (every 500 ms): the worst case for the heap. */
  rssMiB: number;
  peakRssMiB: number;
  /** After STEADY_SECONDS at the default 5 s interval, as deployed. */
  steadyRssMiB?: number;
  steadyPeakRssMiB?: number;
}

interface RssFigures {
  rssMiB: number;
  peakRssMiB: number;
}

export async function run(): Promise<void> {
  console.log(`monitor benchmark: node ${process.version}, ${os.cpus().length} CPUs, ${os.release()}`);
  const results: Row[] = [];
  let leakToReap: { decidedMs: number; boundMs: number } | undefined;
  try {
    const [busybox, node] = await Promise.all([images.busyboxImage(), images.nodeImage()]);
    const build = buildSupport.buildMonitor();
    for (const size of SIZES) {
      const groups = Math.ceil((size - 3) / 3); // entrypoint, server and PID 1's sleep, plus 3 per group
      const scripts = targetSupport.writeTargetScripts(targetSupport.benchServer(groups));
      try {
        const target = await targetSupport.startTarget(busybox, scripts, size + 500, 180_000);
        const processes = await settledProcessCount(target, groups * 3 + 3);
        console.log(`\n${processes} processes in the target (${groups} MCP groups)`);
        const stopGap = average(await stopGapTicks(target));
        console.log(
          `  stop-gap tick: ${fmt(stopGap.cliCpuMs + stopGap.daemonCpuMs)} ms CPU ` +
            `(CLI ${fmt(stopGap.cliCpuMs)} + docker daemons ${fmt(stopGap.daemonCpuMs)}), ${fmt(stopGap.wallMs)} ms wall, counted ${stopGap.count}`,
        );
        const monitor = await monitorScans(node, build, target);
        console.log(
          `  monitor scan+decide: ${fmt(monitor.cpuMsPerScan)} ms CPU/scan over ${monitor.scans} scans, ` +
            `${fmt(monitor.wallMsPerScan)} ms wall/scan, RSS ${fmt(monitor.rssMiB)} MiB (peak ${fmt(monitor.peakRssMiB)} MiB)`,
        );
        if (size === SIZES[SIZES.length - 1]) {
          const steady = await steadyRss(node, build, target);
          monitor.steadyRssMiB = steady.rssMiB;
          monitor.steadyPeakRssMiB = steady.peakRssMiB;
          console.log(`  monitor at the default interval for ${STEADY_SECONDS} s: RSS ${fmt(steady.rssMiB)} MiB (peak ${fmt(steady.peakRssMiB)} MiB)`);
        }
        results.push({ size, label: String(processes), processes, stopGap, monitor });
        if (size === SIZES[0]) {
          leakToReap = await leakToReapTime(node, build, target);
          console.log(`  leak-to-reap: decided ${fmt(leakToReap.decidedMs / 1000)} s after the leak (bound ${leakToReap.boundMs / 1000} s)`);
        }
        await docker("rm", "-f", target);
      } finally {
        fs.rmSync(scripts, { recursive: true, force: true });
      }
    }
    results.push(await hostileRow(busybox, node, build));
  } finally {
    await dockerSupport.removeTestContainers();
    buildSupport.removeMonitorBuild();
  }
  printSummary(results, leakToReap);
}

interface Row {
  size: number;
  label: string;
  processes: number;
  stopGap: StopGapFigures;
  monitor: MonitorFigures;
}

/** A server that starts HOSTILE_PROCESSES processes with distinct 64 KiB command lines, each blocked on a FIFO. */
function hostileServer(count: number): string {
  return `#!/bin/sh
x=$(printf '/node %.0s' $(seq 10922))
mkfifo /tmp/never
i=0
while [ $i -lt ${count} ]; do setsid /bin/sh -c 'read _ < /tmp/never' "h$i$x" & i=$((i+1)); done
echo spawned
wait
`;
}

async function hostileRow(busybox: string, node: string, build: string): Promise<Row> {
  const scripts = targetSupport.writeTargetScripts(hostileServer(HOSTILE_PROCESSES));
  try {
    const target = await targetSupport.startTarget(busybox, scripts, HOSTILE_PROCESSES + 500, 180_000);
    const processes = await settledProcessCount(target, HOSTILE_PROCESSES + 3);
    console.log(`\n${processes} processes in the target, ${HOSTILE_PROCESSES} of them with 64 KiB command lines`);
    const stopGap = average(await stopGapTicks(target));
    console.log(`  stop-gap tick: ${fmt(stopGap.cliCpuMs + stopGap.daemonCpuMs)} ms CPU, ${fmt(stopGap.wallMs)} ms wall`);
    const monitor = await monitorScans(node, build, target);
    console.log(
      `  monitor scan+decide: ${fmt(monitor.cpuMsPerScan)} ms CPU/scan over ${monitor.scans} scans, first scan ${fmt(monitor.firstScanMs)} ms wall, ` +
        `${monitor.scansCutShort} cut short, RSS ${fmt(monitor.rssMiB)} MiB (peak ${fmt(monitor.peakRssMiB)} MiB)`,
    );
    await docker("rm", "-f", target);
    return { size: HOSTILE_PROCESSES, label: `${processes} (64 KiB lines)`, processes, stopGap, monitor };
  } finally {
    fs.rmSync(scripts, { recursive: true, force: true });
  }
}

/** Waits until the target's process count stops rising (children exec a little after "spawned"). */
async function settledProcessCount(target: string, expected: number): Promise<number> {
  const count = async () => Number(await docker("exec", target, "sh", "-c", "ls -d /proc/[0-9]* | wc -l")) - 2; // less sh and ls
  let last = -1;
  for (let i = 0; i < 120; i++) {
    const now = await count();
    if (now >= expected && now === last) return now;
    last = now;
    await sleep(1000);
  }
  throw new Error(`the target did not settle at ${expected} processes (last count ${last})`);
}

async function stopGapTicks(target: string): Promise<StopGapFigures[]> {
  const ticks: StopGapFigures[] = [];
  for (let i = 0; i < STOP_GAP_TICKS; i++) {
    const before = daemonTicks();
    const started = performance.now();
    // `times` prints the shell's own and its children's CPU; the second line is the children's.
    const out = execFileSync(
      "bash",
      [
        "-c",
        `docker exec ${target} ps aux | grep -E 'npm exec|@modelcontextprotocol' | wc -l; ` +
          `docker stats --no-stream ${target} > /dev/null; times`,
      ],
      { encoding: "utf8" },
    ).trim().split("\n");
    const wallMs = performance.now() - started;
    const daemonCpuMs = ((daemonTicks() - before) * 1000) / TICKS_PER_SECOND;
    const [user, system] = out[out.length - 1].split(/\s+/).map(bashTimeMs);
    ticks.push({ count: Number(out[0]), cliCpuMs: user + system, daemonCpuMs, wallMs });
  }
  return ticks;
}

/** CPU ticks (own and collected children's) of dockerd, containerd and every containerd shim. */
function daemonTicks(): number {
  let total = 0;
  for (const pid of fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "latin1");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      if (!/^(dockerd|containerd|containerd-shim)/.test(comm)) continue;
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      total += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    } catch {
      // exited while we looked
    }
  }
  return total;
}

async function monitorScans(node: string, build: string, target: string): Promise<MonitorFigures> {
  const monitor = await targetSupport.startMonitor(node, build, target, {
    MONITOR_INTERVAL: `${MEASURE_INTERVAL_MS}ms`,
    MONITOR_DRY_RUN: "true",
    MONITOR_MAIN_PATTERN: targetSupport.MAIN_PATTERN,
  });
  try {
    const hostPid = Number(await docker("inspect", "-f", "{{.State.Pid}}", monitor.id));
    const scrape = async () => prom.parseExposition((await targetSupport.fetchText(monitor.port, "/metrics"))!.text);
    const scans = async () => prom.sampleValue(await scrape(), "metamcp_monitor_scans_total");
    // Past the first scan, which reads every command line once.
    await wait.waitUntil(async () => (await scans()) >= 1, 30_000, "a scan");
    const first = await scrape();
    const firstScanMs = prom.sampleValue(first, "metamcp_monitor_scans_total") === 1 ? prom.sampleValue(first, "metamcp_monitor_scan_duration_seconds") * 1000 : NaN;
    await wait.waitUntil(async () => (await scans()) >= 2, 30_000, "two scans");
    const cpu0 = processTicks(hostPid);
    const scans0 = await scans();
    const walls: number[] = [];
    while ((await scans()) < scans0 + MEASURED_SCANS) {
      walls.push(prom.sampleValue(await scrape(), "metamcp_monitor_scan_duration_seconds") * 1000);
      await sleep(MEASURE_INTERVAL_MS);
    }
    const cpu1 = processTicks(hostPid);
    const scans1 = await scans();
    return {
      firstScanMs,
      scansCutShort: prom.sampleValue(await scrape(), "metamcp_monitor_scans_cut_short_total"),
      scans: scans1 - scans0,
      cpuMsPerScan: ((cpu1 - cpu0) * 1000) / TICKS_PER_SECOND / (scans1 - scans0),
      wallMsPerScan: walls.reduce((a, b) => a + b, 0) / walls.length,
      ...rssOf(hostPid),
    };
  } finally {
    await docker("rm", "-f", monitor.id);
  }
}

/** The monitor as deployed (default interval), left to settle: its memory between scans. */
async function steadyRss(node: string, build: string, target: string): Promise<RssFigures> {
  const monitor = await targetSupport.startMonitor(node, build, target, {
    MONITOR_DRY_RUN: "true",
    MONITOR_MAIN_PATTERN: targetSupport.MAIN_PATTERN,
  });
  try {
    await sleep(STEADY_SECONDS * 1000);
    return rssOf(Number(await docker("inspect", "-f", "{{.State.Pid}}", monitor.id)));
  } finally {
    await docker("rm", "-f", monitor.id);
  }
}

function rssOf(pid: number): RssFigures {
  const status = fs.readFileSync(`/proc/${pid}/status`, "latin1");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)![1]);
  return { rssMiB: kb("VmRSS") / 1024, peakRssMiB: kb("VmHWM") / 1024 };
}

function processTicks(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "latin1");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** Default interval and grace; the leak is PID 1's own (SIGUSR1), timed from the signal. */
async function leakToReapTime(node: string, build: string, target: string): Promise<{ decidedMs: number; boundMs: number }> {
  const monitor = await targetSupport.startMonitor(node, build, target, {
    MONITOR_MAIN_PATTERN: targetSupport.MAIN_PATTERN,
  });
  try {
    const start = (await targetSupport.auditLines(monitor.id)).find((r) => r.event === "start")!;
    const { intervalMs, orphanGraceMs } = start.settings as { intervalMs: number; orphanGraceMs: number };
    const boundMs = orphanGraceMs + 2 * intervalMs;
    const leakedAt = Date.now();
    await docker("kill", "-s", "USR1", target);
    let reap: Record<string, any> | undefined;
    await wait.waitUntil(
      async () => {
        reap = (await targetSupport.auditLines(monitor.id)).find((r) => r.event === "reap" && /leak-on-signal/.test(r.cmdline));
        return reap !== undefined;
      },
      boundMs + 15_000,
      "the leak to be reaped",
    );
    return { decidedMs: Date.parse(reap!.ts) - reap!.durationMs - leakedAt, boundMs };
  } finally {
    await docker("rm", "-f", monitor.id);
  }
}

function printSummary(results: Row[], leak: { decidedMs: number; boundMs: number } | undefined): void {
  console.log(
    "\n| processes | stop-gap tick CPU ms | stop-gap wall ms | monitor CPU ms/scan | monitor wall ms/scan | first scan ms " +
      "| monitor RSS MiB, 500 ms scans (peak) | monitor RSS MiB, 5 s default (peak) | target |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|---|");
  for (const { size, label, stopGap, monitor } of results) {
    const cpuTarget = size <= 1000 ? TARGETS.cpuMsAt1000 : TARGETS.cpuMsAt5000;
    const verdicts = [`CPU ≤ ${cpuTarget} ms: ${monitor.cpuMsPerScan <= cpuTarget ? "met" : "MISSED"}`];
    if (monitor.steadyRssMiB !== undefined) {
      const steady = monitor.steadyRssMiB <= TARGETS.rssMiBAt5000 ? "met" : "MISSED";
      const peak = monitor.steadyPeakRssMiB! <= TARGETS.rssMiBAt5000 ? "met" : "MISSED";
      verdicts.push(`RSS ≤ ${TARGETS.rssMiBAt5000} MiB: ${steady} between scans, ${peak} at peak`);
    }
    const steadyCell = monitor.steadyRssMiB === undefined ? "" : `${fmt(monitor.steadyRssMiB)} (${fmt(monitor.steadyPeakRssMiB!)})`;
    console.log(
      `| ${label} | ${fmt(stopGap.cliCpuMs + stopGap.daemonCpuMs)} | ${fmt(stopGap.wallMs)} | ${fmt(monitor.cpuMsPerScan)} | ` +
        `${fmt(monitor.wallMsPerScan)} | ${fmt(monitor.firstScanMs)} | ${fmt(monitor.rssMiB)} (${fmt(monitor.peakRssMiB)}) | ${steadyCell} | ${verdicts.join("; ")} |`,
    );
  }
  if (leak) {
    console.log(
      `\nleak-to-reap at the default interval and grace: ${fmt(leak.decidedMs / 1000)} s ` +
        `(bound grace + 2 intervals = ${leak.boundMs / 1000} s: ${leak.decidedMs <= leak.boundMs ? "met" : "MISSED"})`,
    );
  }
}

function average(ticks: StopGapFigures[]): StopGapFigures {
  const mean = (pick: (t: StopGapFigures) => number) => ticks.reduce((sum, t) => sum + pick(t), 0) / ticks.length;
  return { count: ticks[0].count, cliCpuMs: mean((t) => t.cliCpuMs), daemonCpuMs: mean((t) => t.daemonCpuMs), wallMs: mean((t) => t.wallMs) };
}

/** "0m0.052s" → 52 */
function bashTimeMs(text: string): number {
  const match = /^(\d+)m([\d.]+)s$/.exec(text);
  return match ? (Number(match[1]) * 60 + Number(match[2])) * 1000 : NaN;
}

function fmt(value: number): string {
  return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Stops what a run started, whatever state it is in (Ctrl-C): its containers carry the owner label. */
export async function interrupt(): Promise<void> {
  await dockerSupport.removeTestContainers();
  buildSupport.removeMonitorBuild();
}
