/**
 * Private temporary folders for the files ssh needs on disk (a private key, a known_hosts file holding one
 * pinned key), removed on every way out: by the caller when done, and, should the process end first, on
 * `exit` (process.exit, the last callback returning), on an uncaught exception, and on SIGINT, SIGTERM and
 * SIGHUP (Ctrl-C, a CI runner cancelling, a closed terminal). SIGKILL cannot be caught: nothing can clean
 * up after it, which is why each folder lives only as long as the one ssh run that needs it.
 *
 * The signal handlers exist only while a folder does, so a process that holds none behaves exactly as
 * Node does by default. On a signal they remove every folder and, when no other handler is listening,
 * raise the signal again, so the process still ends the way the signal means (exit status 128 + n).
 *
 * SERIALIZATION CONSTRAINT (see dockerEngine/transport.ts): the dynamic providers capture these functions,
 * so builtins are required inside function bodies and the registry lives on `globalThis` under a
 * registered symbol, shared by every serialized copy in one process.
 */

export interface PrivateTempDir {
  /** The folder, mode 0700. */
  path: string;
  /** Removes the folder and what it holds; safe to call more than once. */
  remove(): void;
}

interface Registry {
  dirs: Set<string>;
  /** The handlers while installed, so they can be removed again. */
  handlers?: { exit: () => void; signals: Array<[NodeJS.Signals, () => void]>; exception: () => void };
}

const SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/** Makes a folder in the system temp dir whose name starts with `prefix` (e.g. "metamcp-guard-ssh-"). */
export function privateTempDir(prefix: string): PrivateTempDir {
  const fs = require("node:fs") as typeof import("node:fs");
  const os = require("node:os") as typeof import("node:os");
  const path = require("node:path") as typeof import("node:path");
  const registry = tempDirRegistry();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  registry.dirs.add(dir);
  installCleanup(registry);
  return {
    path: dir,
    remove: () => {
      fs.rmSync(dir, { recursive: true, force: true });
      registry.dirs.delete(dir);
      if (registry.dirs.size === 0) uninstallCleanup(registry);
    },
  };
}

/** The folders not removed yet (for tests). */
export function livePrivateTempDirs(): string[] {
  return [...tempDirRegistry().dirs];
}

function tempDirRegistry(): Registry {
  const key = Symbol.for("metamcp-guard.privateTempDirs");
  const holder = globalThis as unknown as Record<symbol, Registry | undefined>;
  holder[key] ??= { dirs: new Set() };
  return holder[key]!;
}

function removeAll(registry: Registry): void {
  const fs = require("node:fs") as typeof import("node:fs");
  for (const dir of registry.dirs) {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // Going down anyway: remove what can be removed.
    }
  }
  registry.dirs.clear();
}

function installCleanup(registry: Registry): void {
  if (registry.handlers) return;
  const exit = () => removeAll(registry);
  const signals = SIGNALS.map((signal): [NodeJS.Signals, () => void] => [
    signal,
    () => {
      removeAll(registry);
      uninstallCleanup(registry);
      // Ours was the only handler: let the signal do what it does by default (end the process).
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    },
  ]);
  // A monitor, not a handler: it sees an uncaught exception (or unhandled rejection) without
  // swallowing it, and the process still crashes as it would have.
  const exception = () => removeAll(registry);
  process.on("exit", exit);
  for (const [signal, handler] of signals) process.on(signal, handler);
  process.prependListener("uncaughtExceptionMonitor", exception);
  registry.handlers = { exit, signals, exception };
}

function uninstallCleanup(registry: Registry): void {
  const handlers = registry.handlers;
  if (!handlers) return;
  process.removeListener("exit", handlers.exit);
  for (const [signal, handler] of handlers.signals) process.removeListener(signal, handler);
  process.removeListener("uncaughtExceptionMonitor", handlers.exception);
  registry.handlers = undefined;
}
