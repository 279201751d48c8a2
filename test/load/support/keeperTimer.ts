/**
 * The monitor keeper's timer, emulated in a test: the exact script the keeper's systemd service
 * runs (keeperScript, the pure function the unit is written from), run with `sh` against a local
 * engine on the stack's interval. What the host's timer does, minus systemd.
 */
import { execFile } from "node:child_process";
import { keeperScript, type KeeperSpec } from "../../../infra/host/keeperUnits";
import { docker } from "../../support/dockerCli";

export interface KeeperRun {
  at: number;
  code: number;
  stdout: string;
  stderr: string;
}

export interface KeeperTimer {
  /** Every run so far. */
  runs: KeeperRun[];
  /** Runs whose script started the monitor (it prints "started <name>" then). */
  starts(): KeeperRun[];
  stop(): Promise<void>;
}

/** A container's name as the CLI takes it (`docker inspect` prints it with a leading slash). */
export async function nameOf(container: string, dockerHost: string): Promise<string> {
  return (await docker("-H", dockerHost, "inspect", "-f", "{{.Name}}", container)).replace(/^\//, "");
}

/**
 * Runs the keeper's script now and then every `spec.intervalSeconds` (the timer's OnActiveSec=0
 * and OnUnitActiveSec), one run at a time, until stop(). `dockerHost` reaches the script's
 * `docker` through DOCKER_HOST, as the host's own engine would be reached.
 */
export function startKeeperTimer(spec: KeeperSpec, dockerHost: string): KeeperTimer {
  const script = keeperScript(spec);
  const runs: KeeperRun[] = [];
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  const runOnce = () =>
    new Promise<void>((resolve) => {
      execFile("sh", ["-c", script], { env: { ...process.env, DOCKER_HOST: dockerHost }, timeout: 60_000 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 255) : 0;
        runs.push({ at: Date.now(), code, stdout: String(stdout), stderr: String(stderr) });
        resolve();
      });
    });
  const tick = () => {
    if (stopped) return;
    current = runOnce().then(() => {
      if (!stopped) timer = setTimeout(tick, spec.intervalSeconds * 1000);
    });
  };
  tick();
  return {
    runs,
    starts: () => runs.filter((r) => r.code === 0 && /\bstarted\b/.test(r.stdout)),
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      await current;
    },
  };
}
