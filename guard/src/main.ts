/**
 * Entry point: read the settings, serve /metrics and /healthz, proxy to MetaMCP and sweep for idle
 * sessions until SIGTERM. Exit code 2 means bad settings (the message names the variable).
 */
import { performance } from "node:perf_hooks";
import { loadSettings, SettingsError, type Settings } from "./config";
import { Guard } from "./guard";
import { listen } from "./listen";
import { logLine, startFields } from "./log";
import { metricsServer, nodeErrorCode } from "./metrics";

async function main(): Promise<void> {
  let settings: Settings;
  try {
    settings = loadSettings(process.env);
  } catch (err) {
    if (!(err instanceof SettingsError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  const write = (line: string) => process.stdout.write(line);
  const guard = new Guard(settings, { now: () => performance.now(), clock: () => new Date(), write });

  const metrics = metricsServer({ metrics: () => guard.metrics(), health: () => guard.health() });
  await listen(metrics, settings.metricsHost, settings.metricsPort, (error) =>
    write(logLine(new Date(), "error", "metrics_server_error", { code: nodeErrorCode(error) })),
  );
  await guard.listen();
  write(logLine(new Date(), "info", "start", { pid: process.pid, uid: process.getuid?.(), ...startFields(settings) }));

  // As PID 1 of its container Node gets no default signal handling: without these, `docker stop`
  // would wait its timeout and then SIGKILL us, cutting every stream at once.
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    write(logLine(new Date(), "info", "stopping", { signal, drainTimeoutMs: settings.drainTimeoutMs }));
    void guard
      .stop()
      .then(() => {
        metrics.close();
        write(logLine(new Date(), "info", "stop", { signal }));
        process.exit(0);
      })
      .catch((err: Error) => {
        process.stderr.write(`guard failed while stopping: ${err.stack ?? err}\n`);
        process.exit(1);
      });
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((err) => {
  process.stderr.write(`guard failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
