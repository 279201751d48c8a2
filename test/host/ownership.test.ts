/**
 * The host scripts' ownership checks (infra/host/ownership.ts), run by sh against a folder standing in for
 * /etc/systemd/system and a stand-in `systemctl`: a file is written over only when it is absent or this
 * stack's, another stack's or a user's file is refused by name, a parent slice never nests in or holds
 * another stack's, and an older parent of this same stack (metamcp.slice before the default became
 * <namePrefix>.slice) is removed once only the stack's own slices hold its processes. On a real systemd host:
 * systemdHost.test.ts.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ownerLine, ownershipFunctions, parentSliceGuardLines } from "../../infra/host/ownership";
import { shellQuote } from "../../infra/host/shell";
import { expectNoTempDirsLeft } from "../support/tempDirs";

/** First lines as versions before this one wrote them: still recognised as the stack's own. */
const OLD_SLICE_HEADER = "# Written by metamcp-guard (Pulumi stack prod); `npm run verify-host -- prod` reports edits.";
const OLD_KEEPER_HEADER = "# Written by metamcp-guard (Pulumi stack prod): starts metamcp-prod-monitor when Docker's restart policy gave up on it.";

describe("the owner line", () => {
  it("names the stack, and the older headers start with it", () => {
    expect(ownerLine("prod")).toBe("# Written by metamcp-guard (Pulumi stack prod)");
    expect([OLD_SLICE_HEADER, OLD_KEEPER_HEADER].every((line) => line.startsWith(ownerLine("prod")))).toBe(true);
    // "prod" is not "prod2": the closing parenthesis is part of it.
    expect(`${ownerLine("prod2")}.`.startsWith(ownerLine("prod"))).toBe(false);
  });
});

describe("ownership checks, against a stand-in unit directory", () => {
  expectNoTempDirsLeft("ownership-");
  let root: string;
  let dir: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "ownership-"));
    dir = join(root, "system");
    // `systemctl show -p P --value U` answers from root/show/<U>.<P>; anything else succeeds quietly.
    mkdirSync(join(root, "bin"));
    writeFileSync(
      join(root, "bin", "systemctl"),
      `#!/bin/sh\nif [ "$1" = show ]; then f=${shellQuote(join(root, "show"))}/"$5.$3"; [ -f "$f" ] && cat "$f"; fi\nexit 0\n`,
    );
    chmodSync(join(root, "bin", "systemctl"), 0o755);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  beforeEach(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(join(root, "show"), { recursive: true, force: true });
    mkdirSync(dir);
    mkdirSync(join(root, "show"));
  });

  const file = (name: string, firstLine: string) => writeFileSync(join(dir, name), `${firstLine}\n[Slice]\nTasksMax=9\n`);
  const shows = (unit: string, property: string, value: string) => writeFileSync(join(root, "show", `${unit}.${property}`), `${value}\n`);
  const run = (lines: string[], setup: string[] = []) => {
    const script = ["set -eu", `dir=${shellQuote(dir)}`, ...setup, ...lines, "echo OK"].join("\n");
    const result = spawnSync("sh", ["-c", script], { env: { ...process.env, PATH: `${join(root, "bin")}:${process.env.PATH}` }, encoding: "utf8" });
    return { code: result.status, out: result.stdout, err: result.stderr };
  };
  const refuse = (name: string, unit = name) => run([...ownershipFunctions("prod"), `refuse_unless_ours "$dir/${name}" ${unit}`]);

  it.each<[string, () => void, RegExp | undefined]>([
    ["no file yet", () => undefined, undefined],
    ["this stack's file", () => file("metamcp-prod.slice", `${ownerLine("prod")}; reports edits.`), undefined],
    ["this stack's file as an older version wrote it", () => file("metamcp-prod.slice", OLD_SLICE_HEADER), undefined],
    ["another stack's file", () => file("metamcp-prod.slice", `${ownerLine("staging")}; x`), /belongs to Pulumi stack staging, not to stack prod; it is left as it is\. Stacks that share a host need different namePrefix values/],
    ["a file of the user's own", () => file("metamcp-prod.slice", "[Slice]"), /metamcp-prod\.slice exists and was not written by metamcp-guard .*; it is left as it is/],
    ["an empty file", () => file("metamcp-prod.slice", ""), /was not written by metamcp-guard/],
    ["a masked unit (a symlink to /dev/null)", () => symlinkSync("/dev/null", join(dir, "metamcp-prod.slice")), /is a symbolic link \(a masked or linked unit\)/],
    ["a unit systemd has from another directory", () => shows("metamcp-prod.slice", "FragmentPath", "/usr/lib/systemd/system/metamcp-prod.slice"), /systemd already has a unit metamcp-prod\.slice, from \/usr\/lib\/systemd\/system\/metamcp-prod\.slice/],
  ])("writing over %s", (_case, arrange, refusal) => {
    arrange();
    const result = refuse("metamcp-prod.slice");
    if (refusal === undefined) expect(result).toMatchObject({ code: 0, out: "OK\n" });
    else expect({ code: result.code, out: result.out, err: result.err }).toEqual({ code: 1, out: "", err: expect.stringMatching(refusal) });
  });

  it("the keeper's script as an older version wrote it (no owner line) is the stack's own, another script is not", () => {
    const legacy = "set -u\nmonitor='metamcp-prod-monitor'";
    const check = (text: string) => {
      writeFileSync(join(dir, "keeper.sh"), text);
      return run([...ownershipFunctions("prod", legacy), `refuse_unless_ours "$dir/keeper.sh"`]).code;
    };
    expect([check(`${legacy}\napp='metamcp-prod'\n`), check("set -u\nmonitor='metamcp-staging-monitor'\n"), check("#!/bin/sh\nrm -rf /\n")]).toEqual([0, 1, 1]);
  });

  const parent = (unit: string, then: string[] = []) => run([...ownershipFunctions("prod"), `unit=${shellQuote(unit)}`, ...parentSliceGuardLines(), ...then]);

  it("a parent slice refuses to hold another stack's slice (by name, systemd would nest it inside)", () => {
    file("metamcp-prod-team.slice", `${ownerLine("team")}; x`);
    expect(parent("metamcp-prod.slice")).toEqual({
      code: 1,
      out: "",
      err: expect.stringMatching(/^metamcp-guard: metamcp-prod-team\.slice, written by Pulumi stack team, would nest inside metamcp-prod\.slice, and the limits of stack prod would bind it; nothing was changed/),
    });
  });

  it("a parent slice refuses to nest in another stack's slice", () => {
    file("metamcp.slice", `${ownerLine("legacy-dev")}; x`);
    expect(parent("metamcp-prod.slice")).toEqual({
      code: 1,
      out: "",
      err: expect.stringMatching(/metamcp-prod\.slice would nest inside metamcp\.slice, written by Pulumi stack legacy-dev, whose limits would bind stack prod too/),
    });
  });

  it("slices that are not a stack's (systemd's, a user's) and this stack's own children are no obstacle", () => {
    file("metamcp.slice", "[Slice]");
    file("metamcp-prod-app.slice", ownerLine("prod"));
    expect(parent("metamcp-prod.slice")).toMatchObject({ code: 0, out: "OK\n" });
  });

  it("an older parent of this stack is removed once only the stack's own slices below it hold processes, and never stopped", () => {
    // The layout before the upgrade: metamcp.slice with prod's old children, and prod's new parent just written.
    file("metamcp.slice", OLD_SLICE_HEADER);
    file("metamcp-app.slice", OLD_SLICE_HEADER);
    file("metamcp-db.slice", OLD_SLICE_HEADER);
    file("metamcp-prod.slice", ownerLine("prod"));
    file("metamcp-prod-app.slice", ownerLine("prod")); // a grandchild: counted in metamcp-prod.slice's own
    shows("metamcp.slice", "TasksCurrent", "170");
    shows("metamcp-app.slice", "TasksCurrent", "120");
    shows("metamcp-db.slice", "TasksCurrent", "50");
    shows("metamcp-prod.slice", "TasksCurrent", "0");
    shows("metamcp-prod-app.slice", "TasksCurrent", "0");
    const result = parent("metamcp-prod.slice", ["release_older_parents"]);
    expect(result).toMatchObject({ code: 0, out: expect.stringContaining(`removed ${join(dir, "metamcp.slice")}, an older slice of stack prod that metamcp-prod.slice nests in`) });
    expect(result.out).toContain("it was not stopped");
    expect(["metamcp.slice", "metamcp-app.slice", "metamcp-prod.slice"].map((f) => existsSync(join(dir, f)))).toEqual([false, true, true]);
  });

  it("an older parent of this stack that still holds other processes is left, and the note says how to remove it without stopping it", () => {
    file("metamcp.slice", OLD_SLICE_HEADER);
    file("metamcp-app.slice", OLD_SLICE_HEADER);
    file("metamcp-debug.slice", "[Slice]"); // somebody's own slice in it
    shows("metamcp.slice", "TasksCurrent", "130");
    shows("metamcp-app.slice", "TasksCurrent", "120");
    shows("metamcp-debug.slice", "TasksCurrent", "10");
    const result = parent("metamcp-prod.slice", ["release_older_parents"]);
    expect(result).toMatchObject({ code: 0, out: "OK\n" });
    expect(result.err).toMatch(/note: metamcp\.slice, an older slice of stack prod that metamcp-prod\.slice nests in, still holds 10 tasks outside this stack's slices; it is left as it is.*never systemctl stop metamcp\.slice/);
    expect(existsSync(join(dir, "metamcp.slice"))).toBe(true);
  });
});
