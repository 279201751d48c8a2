/**
 * Reading files on the Docker host through a shell (as verify and verify-host do over SSH): one script for
 * all files, each file's text or the fact that it cannot be read, paths taken literally.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCommand } from "../../infra/exec";
import { fileDumpScript, filesOverShell, localFiles, parseFileDump } from "../../infra/verify/hostFiles";

describe("files through a shell", () => {
  const dir = mkdtempSync(join(tmpdir(), "host-files-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const odd = join(dir, `it's "odd" $(touch pwned)`);
  writeFileSync(odd, "0\n");
  writeFileSync(join(dir, "two-lines"), "a 1\nb 2\n");
  writeFileSync(join(dir, "empty"), "");
  const paths = [odd, join(dir, "two-lines"), join(dir, "empty"), join(dir, "missing")];
  const viaShell = filesOverShell((script) => runCommand("sh", ["-c", script]), "a shell");

  it("reads each file's text, says which cannot be read, and runs nothing named in a path", async () => {
    const read = await viaShell.read(paths);
    expect([...read.values()]).toEqual([
      { ok: true, text: "0" },
      { ok: true, text: "a 1\nb 2" },
      { ok: true, text: "" },
      { ok: false, error: "not readable" },
    ]);
    expect((await localFiles().read([join(dir, "pwned")])).get(join(dir, "pwned"))).toEqual({ ok: false, error: "ENOENT" });
  });

  it("agrees with reading them here (but for trailing newlines and the error's words)", async () => {
    const here = await localFiles().read(paths.slice(0, 3));
    expect([...here.values()].map((f) => (f.ok ? f.text.trim() : f.error))).toEqual(["0", "a 1\nb 2", ""]);
  });

  it("a path the output does not mention is reported as such", () => {
    expect(parseFileDump("", ["/x"]).get("/x")).toEqual({ ok: false, error: "not reported by the host" });
  });

  it("a failing shell is an error naming the host", async () => {
    const broken = filesOverShell(async () => ({ code: 255, stdout: "", stderr: "ssh: connect to host h port 22: Connection refused" }), "ssh://h");
    await expect(broken.read(["/x"])).rejects.toThrow(/reading 1 file\(s\) on ssh:\/\/h failed \(exit 255\): ssh: connect/);
  });

  it("the script quotes every path", () => {
    expect(fileDumpScript(["/a b"])).toContain("for f in '/a b'; do");
  });
});
