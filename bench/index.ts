/**
 * npm run bench [-- monitor | guard] [--help]
 *
 * The benchmarks, side by side with their peers in one run: the process monitor against the stop-gap it
 * replaces (bench/monitor.ts), the session guard against direct requests (bench/guard.ts). Both by
 * default. They print figures and assert nothing: machines differ. Ctrl-C stops what they started.
 */
import * as guard from "./guard";
import * as monitor from "./monitor";

const BENCHES = { monitor, guard } as const;
type BenchName = keyof typeof BENCHES;

const USAGE = `usage: npm run bench [-- monitor | guard]

  monitor   the monitor's scan at 1,000 and 5,000 processes and with hostile command lines, against the
            old stop-gap's tick; its memory; leak-to-reap time (a Docker engine, ~5 minutes)
  guard     the session guard's added latency (p50, p99) and throughput against direct requests (~2 minutes)
  (none)    both, monitor first`;

/** The benchmarks argv names, "help", or an error message (pure). */
export function parseBenchArgs(argv: readonly string[]): BenchName[] | "help" | { error: string } {
  if (argv.some((arg) => arg === "--help" || arg === "-h")) return "help";
  const unknown = argv.filter((arg) => !(arg in BENCHES));
  if (unknown.length > 0) return { error: `unknown benchmark ${unknown.join(", ")}; known: ${Object.keys(BENCHES).join(", ")}` };
  return argv.length === 0 ? (Object.keys(BENCHES) as BenchName[]) : [...new Set(argv as BenchName[])];
}

async function main(argv: readonly string[]): Promise<number> {
  const chosen = parseBenchArgs(argv);
  if (chosen === "help") {
    console.log(USAGE);
    return 0;
  }
  if ("error" in chosen) {
    console.error(`bench: ${chosen.error}\n\n${USAGE}`);
    return 2;
  }
  let running: BenchName | undefined;
  const stop = (signal: NodeJS.Signals) => {
    console.error(`\nbench: ${signal}; stopping what ${running ?? "the run"} started`);
    void Promise.allSettled(Object.values(BENCHES).map((bench) => bench.interrupt())).finally(() => process.exit(130));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  for (const name of chosen) {
    running = name;
    await BENCHES[name].run();
  }
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: Error) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
