/**
 * How many rounds of client behaviour a run can make without going past the stack's app.capacity. Pure.
 *
 * A run past the capacity proves nothing about MetaMCP at its planned load: the monitor's emergency sweep
 * then kills live groups, and MetaMCP counts each kill as a crash. So the rounds are sized from what the
 * stack file declares, and a larger --rounds is said to be past it before the run starts.
 */
import { UsageError } from "../scripts/cliArgs";

/** Rounds are this far apart (at least: each round's clients take time of their own too). */
export const ROUND_SECONDS = 10;

/** The rounds a run makes when the capacity holds them and --rounds is not given. */
export const DEFAULT_ROUNDS = 6;

/** Sessions each round leaves open until the guard ends them: the two whose clients were killed. */
export const ABANDONED_PER_ROUND = 2;

/**
 * Sessions open besides the abandoned ones: the session in use throughout, and a round's clean close
 * while it runs. (An SSE client that drops ends its session with its connection.)
 */
const STEADY_SESSIONS = 2;

export interface RoundPlan {
  rounds: number;
  /** MCP sessions the stack's capacity holds on the e2e's namespace. */
  sessionsHeld: number;
  /** The most sessions open at once with these rounds, counting every leak as alive until it can be ended. */
  peakSessions: number;
  /** Why the rounds were asked for but do not fit; undefined when they fit. */
  pastCapacity?: string;
}

/**
 * Sessions a capacity of `plannedGroups` server groups holds when each session, and the one idle set
 * MetaMCP keeps for the namespace, needs `serversPerSession` groups.
 */
export function sessionsHeld(plannedGroups: number, serversPerSession: number): number {
  return Math.max(0, Math.floor(plannedGroups / serversPerSession) - 1);
}

/**
 * The most sessions open at once over `rounds` rounds when an abandoned session lives `leakSeconds`
 * (the guard's idle timeout plus one sweep): leaks of at most that many rounds overlap.
 */
export function peakSessions(rounds: number, leakSeconds: number): number {
  const overlapping = Math.min(rounds, Math.floor(leakSeconds / ROUND_SECONDS) + 1);
  return STEADY_SESSIONS + ABANDONED_PER_ROUND * overlapping;
}

/** The most rounds, up to `upTo`, whose sessions the capacity holds. */
function roundsThatFit(held: number, leakSeconds: number, upTo: number): number {
  let rounds = 0;
  while (rounds < upTo && peakSessions(rounds + 1, leakSeconds) <= held) rounds++;
  return rounds;
}

/**
 * The rounds to make: `requested` as given (said to be past the capacity when it is), or else the most up
 * to DEFAULT_ROUNDS that fit. Throws a UsageError when none were asked for and not even one fits.
 */
export function planRounds(requested: number | undefined, held: number, leakSeconds: number): RoundPlan {
  const rounds = requested ?? roundsThatFit(held, leakSeconds, DEFAULT_ROUNDS);
  if (rounds === 0 && requested === undefined) {
    throw new UsageError(
      `the stack's app.capacity holds ${held} MCP sessions on the e2e's namespace, and one round needs ${peakSessions(1, leakSeconds)} ` +
        `(the session in use, a clean close, ${ABANDONED_PER_ROUND} abandoned): give the stack file more capacity, or pass --rounds to go past it`,
    );
  }
  const peak = peakSessions(rounds, leakSeconds);
  const plan: RoundPlan = { rounds, sessionsHeld: held, peakSessions: peak };
  if (peak > held) {
    plan.pastCapacity =
      `${rounds} rounds keep up to ${peak} MCP sessions open and the stack's app.capacity holds ${held}: ` +
      `expect the monitor's emergency sweep to reap live groups (${roundsThatFit(held, leakSeconds, rounds)} rounds fit)`;
  }
  return plan;
}
