/**
 * The private temp folders that hold ssh's key and known_hosts files (infra/privateTempDir.ts) are gone
 * however the process ends: Ctrl-C, a CI runner's SIGTERM, a closed terminal's SIGHUP, process.exit, an
 * uncaught exception, an unhandled rejection, or simply running out of work. A child Node process makes one,
 * writes a file in it, says where, and then ends the way each row says; the folder must be gone and the
 * process must have ended the way that way means (a signal still ends it by that signal).
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/stackFiles";

const CHILD = `
const { privateTempDir } = require(${JSON.stringify(join(REPO_ROOT, "infra", "privateTempDir.ts"))});
const fs = require("node:fs");
const dir = privateTempDir("metamcp-guard-exit-test-");
fs.writeFileSync(dir.path + "/key", "secret", { mode: 0o600 });
const how = process.argv[1];
if (how === "listener") process.on("SIGINT", () => { console.log("own handler"); process.exit(7); });
if (how === "removed") { dir.remove(); console.log(JSON.stringify({ dir: dir.path, listeners: process.listenerCount("SIGINT") + process.listenerCount("exit") })); process.exit(0); }
console.log(JSON.stringify({ dir: dir.path }));
if (how === "throw") setTimeout(() => { throw new Error("boom"); }, 50);
else if (how === "reject") setTimeout(() => Promise.reject(new Error("rejected")), 50);
else if (how === "exit") setTimeout(() => process.exit(3), 50);
else if (how === "end") setTimeout(() => undefined, 50);
else setInterval(() => undefined, 1000);
`;

interface Ended {
  dir: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  listeners?: number;
}

/** Runs the child; once it has said where its folder is, sends `signal` (if any); resolves when it ends. */
function runChild(how: string, signal?: NodeJS.Signals): Promise<Ended> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", CHILD, how], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let said: { dir: string; listeners?: number } | undefined;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`child (${how}) did not end: ${stdout}`));
    }, 30_000);
    child.stdout.on("data", (d: Buffer) => {
      stdout += d;
      if (!said && stdout.includes("\n")) {
        said = JSON.parse(stdout.split("\n")[0]);
        if (signal) child.kill(signal);
      }
    });
    child.on("close", (code, sig) => {
      clearTimeout(timer);
      if (!said) return reject(new Error(`child (${how}) said nothing; exit ${code} ${sig}`));
      resolve({ dir: said.dir, code, signal: sig, stdout, listeners: said.listeners });
    });
  });
}

describe("the folders that hold ssh's key files are removed on every way out", () => {
  it.each<[string, string, NodeJS.Signals | undefined, Partial<Ended>]>([
    ["Ctrl-C (SIGINT), and the process still ends by it", "wait", "SIGINT", { signal: "SIGINT", code: null }],
    ["SIGTERM (a CI runner cancelling)", "wait", "SIGTERM", { signal: "SIGTERM", code: null }],
    ["SIGHUP (the terminal closed)", "wait", "SIGHUP", { signal: "SIGHUP", code: null }],
    ["process.exit", "exit", undefined, { code: 3 }],
    ["an uncaught exception", "throw", undefined, { code: 1 }],
    ["an unhandled rejection", "reject", undefined, { code: 1 }],
    ["the last callback returning", "end", undefined, { code: 0 }],
  ])("%s", async (_way, how, signal, ending) => {
    const ended = await runChild(how, signal);
    expect({ gone: !existsSync(ended.dir), code: ended.code, signal: ended.signal }).toEqual({ gone: true, code: null, signal: null, ...ending });
  });

  it("leaves a program's own Ctrl-C handler in charge (and still removes the folder)", async () => {
    const ended = await runChild("listener", "SIGINT");
    expect({ gone: !existsSync(ended.dir), code: ended.code, said: ended.stdout.includes("own handler") }).toEqual({ gone: true, code: 7, said: true });
  });

  it("holds no handler once every folder is removed, so the process behaves as Node's default again", async () => {
    const ended = await runChild("removed");
    expect({ gone: !existsSync(ended.dir), listeners: ended.listeners }).toEqual({ gone: true, listeners: 0 });
  });
});
