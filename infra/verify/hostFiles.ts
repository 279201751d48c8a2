/**
 * Reading small text files (/proc/<pid>/cgroup, cgroup limit files) on the Docker host: here, when the
 * engine is local, or over SSH, when it is remote. One interface so that verify, verify-host and the tests
 * read the kernel the same way wherever it is; over SSH all files of one call come back in one round trip.
 */
import { readFileSync } from "node:fs";
import { runCommand, type ShellResult } from "../exec";
import { shellQuote } from "../host/shell";
import { sshCommandArgs, type DockerHost } from "../pidsLimit/dockerApi";
import { writePinnedKnownHosts } from "../sshPin";

/** A file's text, or why it could not be read (an errno code such as ENOENT, or "not readable"). */
export type FileRead = { ok: true; text: string } | { ok: false; error: string };

export interface HostFiles {
  /** Where the files are, for messages: "this machine", "ssh://admin@host". */
  where: string;
  /** Every path's text (or why not), in one go. Never rejects for a file; rejects when the host cannot be reached. */
  read(paths: readonly string[]): Promise<Map<string, FileRead>>;
}

/** Files on this machine. */
export function localFiles(): HostFiles {
  return {
    where: "this machine",
    async read(paths) {
      return new Map(
        paths.map((path): [string, FileRead] => {
          try {
            return [path, { ok: true, text: readFileSync(path, "utf8") }];
          } catch (error) {
            return [path, { ok: false, error: (error as NodeJS.ErrnoException).code ?? String(error) }];
          }
        }),
      );
    },
  };
}

export type { ShellResult };

/** Runs a POSIX sh script on the host (over SSH, as some user) and resolves with what it printed. */
export type ShellRunner = (script: string) => Promise<ShellResult>;

const BEGIN = "@@metamcp-guard-file ";
const MISSING = "@@metamcp-guard-unreadable ";
const END = "@@metamcp-guard-end";

/**
 * The script that prints each file between markers, or says it cannot read it (pure). Meant for the
 * short text files of /proc and /sys: a file holding the end marker itself would be cut there.
 */
export function fileDumpScript(paths: readonly string[]): string {
  return [
    `for f in ${paths.map(shellQuote).join(" ")}; do`,
    `  if [ -r "$f" ] && text=$(cat -- "$f" 2>/dev/null); then printf '%s%s\\n%s\\n%s\\n' ${shellQuote(BEGIN)} "$f" "$text" ${shellQuote(END)};`,
    `  else printf '%s%s\\n' ${shellQuote(MISSING)} "$f"; fi`,
    "done",
    "",
  ].join("\n");
}

/** What fileDumpScript printed, per path (pure). A path the output does not mention is "not reported". */
export function parseFileDump(output: string, paths: readonly string[]): Map<string, FileRead> {
  const found = new Map<string, FileRead>();
  const lines = output.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith(MISSING)) {
      found.set(line.slice(MISSING.length), { ok: false, error: "not readable" });
    } else if (line.startsWith(BEGIN)) {
      const path = line.slice(BEGIN.length);
      const end = lines.indexOf(END, i + 1);
      if (end < 0) break;
      found.set(path, { ok: true, text: lines.slice(i + 1, end).join("\n") });
      i = end;
    }
  }
  return new Map(paths.map((path) => [path, found.get(path) ?? { ok: false, error: "not reported by the host" }]));
}

/** Files on the host `run` reaches; `where` names it in messages. */
export function filesOverShell(run: ShellRunner, where: string): HostFiles {
  return {
    where,
    async read(paths) {
      if (paths.length === 0) return new Map();
      const result = await run(fileDumpScript(paths));
      if (result.code !== 0) {
        throw new Error(`reading ${paths.length} file(s) on ${where} failed (exit ${result.code}): ${result.stderr.trim() || "(no message)"}`);
      }
      return parseFileDump(result.stdout, paths);
    },
  };
}

/**
 * Runs scripts on an ssh:// Docker host with the same ssh options the engine connection uses (so the same
 * ~/.ssh/config, agent or `--identity` key, and the same pinned host key). Reading /proc/<pid>/cgroup and
 * cgroup limit files needs no root.
 */
export function sshShell(
  host: Extract<DockerHost, { kind: "ssh" }>,
  options: { sshArgs?: string[]; hostKey?: string } = {},
  timeoutMs = 60_000,
): ShellRunner {
  return async (script) => {
    const knownHosts = options.hostKey ? writePinnedKnownHosts(options.hostKey) : undefined;
    try {
      const args = [...(knownHosts?.args ?? []), ...(options.sshArgs ?? [])];
      return await runCommand("ssh", sshCommandArgs(host, args, [`sh -c ${shellQuote(script)}`]), timeoutMs);
    } finally {
      knownHosts?.remove();
    }
  };
}
