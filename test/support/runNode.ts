/** Runs this process's Node binary on `args` in `cwd`; resolves with trimmed stdout, rejects with stderr included. */
import { execFile } from "node:child_process";

export function runNode(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}, timeoutMs = 90_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd, env: { ...process.env, ...env }, timeout: timeoutMs }, (err, stdout, stderr) =>
      err ? reject(new Error(`node ${args.join(" ")} failed: ${err.message}\n${stderr}`)) : resolve(stdout.trim()),
    );
  });
}
