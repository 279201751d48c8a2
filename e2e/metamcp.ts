/**
 * npm run e2e:metamcp -- --image <metamcp image> --database-url <postgresql://…> [options]
 *
 * The stack against the real MetaMCP: its declared containers (MetaMCP, the session guard, the monitor;
 * e2e/stack.ts says what differs from a deployment) around a MetaMCP image, driven by real MCP SDK
 * clients the ways clients behave: one session in use throughout, sessions abandoned by killed clients,
 * clean closes, SSE clients that drop. It prints what happened, in figures: MetaMCP's tasks and memory
 * over time against its caps, its live MCP server groups, the sessions the guard ended, the monitor's
 * reaps, the servers MetaMCP marked ERROR, the tool calls that failed in the session in use.
 *
 * It passes when no server was marked ERROR, no call of the session in use failed, nothing hit EAGAIN,
 * and the abandoned sessions' groups were gone within the guard's idle timeout plus one sweep and one
 * monitor scan. Exit codes: 0 passed (or --keep/--down done), 1 a figure failed, 2 it could not run.
 */
import * as net from "node:net";
import { abandonSession, closeCleanly, dropSseClient, InUseSession, type Endpoint } from "./clients";
import { ENDPOINT, SERVERS, seed, serversInError, waitForSchema } from "./metamcpDb";
import { CRASH_COUNTED, FORK_FAILURE, guardMetrics, logLines, monitorAudit, sample, serverGroups, type Sample } from "./observe";
import { ABANDONED_PER_ROUND, planRounds, ROUND_SECONDS, sessionsHeld } from "./plan";
import { formatReport, judge, type Figures } from "./report";
import {
  applySettings,
  buildImages,
  declare,
  declaredFigures,
  METAMCP_PORTS,
  removeAll,
  startGuard,
  startMetaMcp,
  startMonitor,
  type E2eOptions,
} from "./stack";
import { ArgList, UsageError } from "../scripts/cliArgs";
import { startKeeperTimer } from "../test/load/support/keeperTimer";
import { docker } from "../test/support/dockerCli";
import { REPO_ROOT } from "../test/support/stackFiles";

const DOCKER_HOST = process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";

const USAGE = `usage: npm run e2e:metamcp -- --image IMAGE --database-url URL [options]
       npm run e2e:metamcp -- --down

  --image IMAGE         MetaMCP's image (ghcr.io/metatool-ai/metamcp:2.4.22 where you can pull it)
  --database-url URL    a throwaway PostgreSQL database for MetaMCP (its servers, namespaces and keys
                        are replaced there); or E2E_DATABASE_URL
  --stack-file FILE     the stack file the containers are declared from (default Pulumi.prod.yaml);
                        a copy with a short guard.idleTimeout makes a quick run
  --node-image IMAGE    base image for building the guard and the monitor (default node:20-alpine)
  --port N              where the guard listens, in front of MetaMCP (default 12108); its /metrics
                        is on N+2 and the monitor's on N+1, all on 127.0.0.1
  --rounds N            rounds of client behaviour, 10 s apart: each abandons 2 sessions, closes 1
                        cleanly and drops 1 SSE client (default: as many as the stack file's
                        app.capacity holds while the guard has not yet ended them, up to 6; a larger N
                        is run, with a warning that it goes past the capacity)
  --faults              then kill MetaMCP's backend with kill -9, and later one server's leader
  --keep                bring the stack up, print one JSON line (endpoint URLs, API key, containers,
                        database URL) and leave it running for other clients
  --down                remove what --keep (or an interrupted run) left
  --help                this text`;

interface CliOptions extends E2eOptions {
  /** Undefined: as many as the stack's capacity holds (e2e/plan.ts). */
  rounds?: number;
  faults: boolean;
  keep: boolean;
}

export function parseArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): CliOptions | "help" | "down" {
  const options: Partial<CliOptions> = {
    stackFile: `${REPO_ROOT}/Pulumi.prod.yaml`,
    nodeImage: "node:20-alpine",
    guardPort: 12108,
    faults: false,
    keep: false,
    databaseUrl: env.E2E_DATABASE_URL,
  };
  const args = new ArgList(argv);
  for (let arg = args.next(); arg !== undefined; arg = args.next()) {
    const value = (): string => args.value(arg!);
    const whole = (text: string, min: number, max: number): number => {
      const n = Number(text);
      if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${arg} ${text} is not a whole number from ${min} to ${max}`);
      return n;
    };
    if (arg === "--help" || arg === "-h") return "help";
    if (arg === "--down") return "down";
    if (arg === "--image") options.image = value();
    else if (arg === "--database-url") options.databaseUrl = value();
    else if (arg === "--stack-file") options.stackFile = value();
    else if (arg === "--node-image") options.nodeImage = value();
    else if (arg === "--port") options.guardPort = whole(value(), 1024, 65_533);
    else if (arg === "--rounds") options.rounds = whole(value(), 0, 100);
    else if (arg === "--faults") options.faults = true;
    else if (arg === "--keep") options.keep = true;
    else if (arg === "--source") throw new UsageError("--source is not offered: build MetaMCP's image yourself and pass it with --image");
    else throw new UsageError(`unknown option ${arg}`);
  }
  if (!options.image) throw new UsageError("--image is required (MetaMCP's image)");
  if (!options.databaseUrl) throw new UsageError("--database-url (or E2E_DATABASE_URL) is required");
  options.monitorMetricsPort = options.guardPort! + 1;
  options.guardMetricsPort = options.guardPort! + 2;
  return options as CliOptions;
}

async function main(argv: readonly string[]): Promise<number> {
  let options: ReturnType<typeof parseArgs>;
  try {
    options = parseArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`e2e:metamcp: ${err.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (options === "help") {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (options === "down") {
    process.stdout.write(`removed ${await removeAll()} container(s)\n`);
    return 0;
  }
  const opts = options;
  // Ctrl-C (or a kill) must not leave the stack running: remove it, then exit.
  const interrupted = (signal: NodeJS.Signals) => {
    process.stderr.write(`\ne2e:metamcp: ${signal}; removing the containers\n`);
    void removeAll().finally(() => process.exit(130));
  };
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
  try {
    const figures = await runE2e(opts);
    if (opts.keep) return 0;
    process.stdout.write(formatReport(figures));
    process.stdout.write(`E2E-FIGURES ${JSON.stringify(figures)}\n`);
    return judge(figures).length === 0 ? 0 : 1;
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`e2e:metamcp: ${err.message}\n\n${USAGE}\n`);
    return 2;
  } finally {
    if (!opts.keep) await removeAll();
  }
}

const log = (text: string) => process.stderr.write(`e2e: ${text}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function runE2e(options: CliOptions): Promise<Figures> {
  for (const port of [...METAMCP_PORTS, options.guardPort, options.monitorMetricsPort, options.guardMetricsPort]) {
    if (!(await portFree(port))) throw new Error(`port ${port} on 127.0.0.1 is in use (this run uses the host's network); free it or pass --port`);
  }
  await removeAll();
  log(`declaring the stack of ${options.stackFile} under mocks`);
  const { resources, plannedGroups } = await declare(options);
  const declared = declaredFigures(resources);
  // An abandoned session lives until the guard's next sweep after its idle timeout.
  const leakSeconds = seconds(declared.idleTimeout) + seconds(declared.sweepInterval);
  const plan = planRounds(options.rounds, sessionsHeld(plannedGroups, SERVERS.length), leakSeconds);
  if (plan.pastCapacity) log(`warning: ${plan.pastCapacity}`);
  log("building the guard's and the monitor's images");
  await buildImages(resources, options.nodeImage);

  log(`starting MetaMCP (${options.image})`);
  let app = await startMetaMcp(resources, options);
  await waitForSchema(options.databaseUrl, 300_000);
  const apiKey = await seed(options.databaseUrl);
  await applySettings(resources, options.databaseUrl);
  // MetaMCP makes its idle set of server groups at start: restart it so it sees the servers just added.
  await docker("restart", app);
  await waitHealthy("http://127.0.0.1:12008/health", 300_000);
  const guard = await startGuard(resources, options);
  const monitor = await startMonitor(resources, options, app);
  // The keeper's timer, which needs a systemd host: its own script, run here as the timer would run it.
  const keeper = startKeeperTimer({ stack: "e2e", monitor: "mmg-e2e-monitor", app: "mmg-e2e", intervalSeconds: 10 }, DOCKER_HOST);
  const base = `http://127.0.0.1:${options.guardPort}/metamcp/${ENDPOINT}`;
  const endpoint: Endpoint = { mcpUrl: `${base}/mcp`, sseUrl: `${base}/sse`, apiKey };
  await waitHealthy(`http://127.0.0.1:${options.guardMetricsPort}/healthz`, 60_000);

  if (options.keep) {
    await keeper.stop();
    process.stdout.write(
      `${JSON.stringify({ streamableHttp: endpoint.mcpUrl, sse: endpoint.sseUrl, apiKey, containers: { metamcp: app, guard, monitor }, databaseUrl: options.databaseUrl })}\n`,
    );
    return undefined as never;
  }

  const startedAt = Date.now();
  const samples: Sample[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      samples.push(await sample(app, options.guardMetricsPort, startedAt));
      await sleep(5_000);
    }
  })();

  log("the session in use starts: a tool call every 2 s");
  const inUse = new InUseSession(endpoint);
  await inUse.start(2_000);
  // MetaMCP's groups for the idle set and the session in use, before any other client comes.
  await sleep(10_000);
  const baselineGroups = await serverGroups(app);

  log(
    `${plan.rounds} rounds: ${ABANDONED_PER_ROUND} abandoned sessions, 1 clean close, 1 SSE drop each; up to ${plan.peakSessions} sessions open, ` +
      `the stack's app.capacity holds ${plan.sessionsHeld}`,
  );
  const clients = { abandoned: 0, closed: 0, sseDropped: 0 };
  for (let round = 0; round < plan.rounds; round++) {
    for (let i = 0; i < ABANDONED_PER_ROUND; i++) await abandonSession(endpoint);
    clients.abandoned += ABANDONED_PER_ROUND;
    await closeCleanly(endpoint);
    clients.closed++;
    await dropSseClient(endpoint);
    clients.sseDropped++;
    await sleep(ROUND_SECONDS * 1000);
  }
  const lastAbandonAt = (Date.now() - startedAt) / 1000;
  const peakGroups = await serverGroups(app);
  const boundSeconds = leakSeconds + seconds(declared.monitorInterval);
  log(`waiting for the guard to end the abandoned sessions (bound ${boundSeconds} s)`);
  let backAt: number | undefined;
  const waitUntil = Date.now() + (boundSeconds + 60) * 1000;
  while (Date.now() < waitUntil) {
    if ((await serverGroups(app)) <= baselineGroups) {
      backAt = (Date.now() - startedAt) / 1000;
      break;
    }
    await sleep(2_000);
  }

  // Calls that failed and crashes MetaMCP counted before any fault was injected: these must be none.
  const failedBeforeFaults = inUse.failed;
  const crashesBeforeFaults = (await logLines(app, CRASH_COUNTED)).length;
  const faults = options.faults ? await injectFaults(app, monitor, inUse, options) : undefined;
  if (faults) app = faults.appId;

  sampling = false;
  await sampler;
  await inUse.stop();
  await keeper.stop();
  const guardFigures = await guardMetrics(options.guardMetricsPort);
  const audit = await monitorAudit(monitor);
  return {
    image: options.image,
    stackFile: options.stackFile,
    declared,
    clients,
    baselineGroups,
    peakGroups,
    leak: { lastAbandonAt, backToBaselineAt: backAt, boundSeconds },
    samples,
    guard: {
      endedIdle: guardFigures['metamcp_guard_sessions_ended_total{reason="idle"}'] ?? 0,
      endedByClient: guardFigures['metamcp_guard_sessions_ended_total{reason="client"}'] ?? 0,
      deletesOk: guardFigures['metamcp_guard_deletes_total{result="ok"}'] ?? 0,
      deletesFailed: Object.entries(guardFigures)
        .filter(([key]) => key.startsWith("metamcp_guard_deletes_total") && !/result="(ok|not_found)"/.test(key))
        .reduce((sum, [, value]) => sum + value, 0),
    },
    monitor: {
      reaps: audit.filter((r) => r.event === "reap").map((r) => String(r.reason)),
      records: audit.length,
    },
    inUse: { calls: inUse.calls, failed: failedBeforeFaults, failedInFaults: inUse.failed - failedBeforeFaults, reconnects: inUse.reconnects, tools: inUse.tools },
    serversInError: await serversInError(options.databaseUrl),
    forkFailures: (await logLines(app, FORK_FAILURE)).length,
    crashesCounted: crashesBeforeFaults,
    keeperStarts: keeper.starts().length,
    faults: faults?.figures,
  };
}

/** kill -9 of MetaMCP's backend, then of one server's leader: what each costs, in figures. */
async function injectFaults(appId: string, monitorId: string, inUse: InUseSession, options: CliOptions) {
  const crashes = async () => (await logLines(appId, CRASH_COUNTED)).length;
  const before = { failed: inUse.failed, crashes: await crashes(), restarts: Number(await docker("inspect", "-f", "{{.RestartCount}}", appId)) };
  log("fault 1: kill -9 of MetaMCP's backend");
  const killedAt = Date.now();
  await killInContainer(appId, "node dist/index.js");
  await sleep(5_000);
  await waitHealthy("http://127.0.0.1:12008/health", 300_000);
  const backendBackSeconds = (Date.now() - killedAt) / 1000;
  await sleep(30_000);
  const afterBackend = {
    backendBackSeconds,
    appRestarts: Number(await docker("inspect", "-f", "{{.RestartCount}}", appId)) - before.restarts,
    monitorRunning: (await docker("inspect", "-f", "{{.State.Running}}", monitorId)) === "true",
    inUseFailedCalls: inUse.failed - before.failed,
    crashesCounted: (await crashes()) - before.crashes,
    serversInError: await serversInError(options.databaseUrl),
    groups: await serverGroups(appId),
  };

  log("fault 2: kill -9 of one MCP server group's leader (npm exec)");
  const failedBefore = inUse.failed;
  const crashesBefore = await crashes();
  const reapsBefore = (await monitorAudit(monitorId)).filter((r) => r.event === "reap").length;
  await killInContainer(appId, "npm exec ");
  await sleep(60_000);
  const afterLeader = {
    inUseFailedCalls: inUse.failed - failedBefore,
    crashesCounted: (await crashes()) - crashesBefore,
    serversInError: await serversInError(options.databaseUrl),
    monitorReaps: (await monitorAudit(monitorId)).filter((r) => r.event === "reap").length - reapsBefore,
    groups: await serverGroups(appId),
  };
  return { appId, figures: { afterBackendKill: afterBackend, afterLeaderKill: afterLeader } };
}

/**
 * kill -9 of the first process whose command line starts with `prefix`, from inside the container as its
 * own user (who owns MetaMCP's processes: root there has no capability under a non-root image user), found
 * through /proc with plain sh (MetaMCP's image need not have pgrep).
 */
async function killInContainer(containerId: string, prefix: string): Promise<void> {
  const script =
    `for d in /proc/[0-9]*; do c=$(tr '\\0' ' ' < "$d/cmdline" 2>/dev/null); ` +
    `case "$c" in "$1"*) kill -9 "\${d#/proc/}"; exit 0;; esac; done; echo "no process starts with $1" >&2; exit 1`;
  await docker("exec", containerId, "sh", "-c", script, "sh", prefix);
}

function seconds(duration: string): number {
  const match = /^(\d+)(ms|s|m|h)$/.exec(duration);
  if (!match) return 0;
  return Number(match[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[match[2] as "ms" | "s" | "m" | "h"];
}

async function waitHealthy(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(url, { signal: AbortSignal.timeout(3_000) }).then((r) => r.ok, () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs / 1000} s`);
    await sleep(1_000);
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      process.stderr.write(`e2e:metamcp: ${err.stack ?? err.message}\n`);
      void removeAll().finally(() => process.exit(2));
    },
  );
}
