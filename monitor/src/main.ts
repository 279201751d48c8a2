/**
 * Entry point: read the settings, check privileges, serve /metrics and /healthz, and scan every
 * interval until SIGTERM. Exit code 2 means bad settings (the message names the variable).
 */
import * as fs from "node:fs";
import { performance } from "node:perf_hooks";
import { eventRecord, startRecord, writeRecord, type Write } from "./audit";
import { loadSettings, SettingsError, type Settings } from "./config";
import { serveMetrics } from "./metrics";
import { Monitor } from "./monitor";
import { parseStatusCapEff, parseStatusUid } from "./proc/parse";
import { detectPageSize, ProcReader } from "./proc/reader";

const CAP_KILL = 1n << 5n;

async function main(): Promise<void> {
  let settings: Settings;
  try {
    settings = loadSettings(process.env);
  } catch (err) {
    if (!(err instanceof SettingsError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  const write: Write = (line) => process.stdout.write(line);
  const reader = new ProcReader(settings.procRoot, detectPageSize(settings.procRoot));
  const monitor = new Monitor(settings, {
    reader,
    write,
    kill: (pid, signal) => process.kill(pid, signal),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    now: () => performance.now(),
    clock: () => new Date(),
    selfPid: process.pid,
    selfRssBytes: () => process.memoryUsage.rss(),
  });

  const server = await serveMetrics(settings.metricsHost, settings.metricsPort, {
    metrics: () => monitor.metrics(),
    health: () => monitor.health(),
    onError: (error) => writeRecord(write, eventRecord(new Date(), "metrics-server-error", { code: (error as NodeJS.ErrnoException).code ?? "unknown" })),
  });
  writeRecord(write, startRecord(new Date(), settings, { pid: process.pid, ...privileges(settings) }));

  let timer: NodeJS.Timeout | undefined;
  const loop = () => {
    const started = performance.now();
    monitor.tick();
    // Timed from the start of this scan, so slow scans do not stretch the interval; never two at
    // once. libuv's timers run on a cached millisecond clock and can fire up to 1 ms early; the
    // extra millisecond keeps a scan from landing just short of a grace period.
    const remaining = settings.intervalMs - (performance.now() - started);
    timer = setTimeout(loop, Math.max(0, Math.ceil(remaining) + 1));
  };
  loop();

  // As PID 1 of its container Node gets no default signal handling: without these, `docker stop`
  // would wait its timeout and then SIGKILL us.
  const stop = (signal: NodeJS.Signals) => {
    clearTimeout(timer);
    writeRecord(write, eventRecord(new Date(), "stop", { signal }));
    server.close();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

/**
 * Whether we can signal MetaMCP's processes. Killing another user's process needs CAP_KILL in our
 * effective set; Docker grants added capabilities to uid 0 only (a non-root user gets them in the
 * bounding set, not the effective one), which is why the image runs as uid 0 with every other
 * capability dropped. Any capability beyond KILL is more than we need and is reported.
 */
function privileges(settings: Settings): Record<string, unknown> {
  let status = "";
  try {
    status = fs.readFileSync("/proc/self/status", "latin1");
  } catch {
    return { capabilities: "unknown" };
  }
  const capEff = parseStatusCapEff(status) ?? 0n;
  const uid = parseStatusUid(status);
  const warnings: string[] = [];
  if ((capEff & CAP_KILL) === 0n && !settings.dryRun) {
    warnings.push(
      "no CAP_KILL in the effective set: signals to other users' processes will fail with EPERM; " +
        "run as uid 0 with --cap-drop ALL --cap-add KILL",
    );
  }
  if ((capEff & ~CAP_KILL) !== 0n) warnings.push(`capabilities beyond KILL are effective (CapEff ${capEff.toString(16)}); drop them`);
  return { uid, capEff: capEff.toString(16), ...(warnings.length > 0 ? { warnings } : {}) };
}

main().catch((err) => {
  process.stderr.write(`monitor failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
