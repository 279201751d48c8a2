import { describe, expect, it } from "vitest";
import { classify } from "../../monitor/src/tree";
import { classifyOptions, mcpGroup, metamcpBase, proc, table } from "./support/fixtures";

const OPTIONS = classifyOptions();
/** The monitor's own process, as it appears after joining the namespace: its own session, parent 0. */
const MONITOR = proc({ pid: 900, ppid: 0, cmd: "node /app/dist/main.js", sid: 900 });

const groupsOf = (processes = metamcpBase()) => classify(table([...processes, MONITOR]), OPTIONS).groups;

describe("classify: MCP groups", () => {
  it("finds a live group: leader spawned by the server, its children, their RSS and CPU", () => {
    const [group, ...rest] = groupsOf([...metamcpBase(), ...mcpGroup({ sid: 100, cpuTicks: 7, rssMiB: 30, age: 120 })]);
    expect(rest).toEqual([]);
    expect(group).toMatchObject({
      sid: 100,
      pgids: [100],
      state: "live",
      cmdline: "npm exec @modelcontextprotocol/server-s100",
      cpuTicks: 7,
      rssBytes: 30 * 1024 * 1024,
      ageSeconds: 120,
    });
    expect(group.members.map((m) => m.pid)).toEqual([100, 101, 102]);
    expect(group.leader?.pid).toBe(100);
  });

  it("marks a group whose leader exited as orphaned, named by a member that matches a pattern", () => {
    const [group] = groupsOf([...metamcpBase(), ...mcpGroup({ sid: 100, leaderAlive: false })]);
    expect(group).toMatchObject({ state: "orphaned", orphanReason: "leader-gone", orphanDetail: "leader 100 has exited" });
    expect(group.cmdline).toBe("node /home/app/.npm/_npx/1/node_modules/.bin/mcp-server-s100");
    expect(group.leader).toBeUndefined();
  });

  it("treats a zombie leader as gone, and leaves the zombie out of the members", () => {
    const [group] = groupsOf([...metamcpBase(), ...mcpGroup({ sid: 100, leaderZombie: true })]);
    expect(group).toMatchObject({ state: "orphaned", orphanReason: "leader-gone", orphanDetail: "leader 100 is a zombie" });
    expect(group.members.map((m) => m.pid)).toEqual([101, 102]);
  });

  it("marks a group whose leader was re-parented away from the server as orphaned", () => {
    const [group] = groupsOf([...metamcpBase(), ...mcpGroup({ sid: 100, parent: 1 })]);
    expect(group).toMatchObject({ state: "orphaned", orphanReason: "reparented" });
    expect(group.orphanDetail).toContain("leader's parent is 1 (/bin/sh /app/docker-entrypoint.sh)");
  });

  it("counts a leader as live when the server is a further ancestor (e.g. behind a wrapper)", () => {
    const wrapper = proc({ pid: 50, ppid: 10, cmd: "sh -c npm exec x", sid: 1, pgid: 1 });
    const [group] = groupsOf([...metamcpBase(), wrapper, ...mcpGroup({ sid: 100, parent: 50 })]);
    expect(group.state).toBe("live");
  });

  it("does not call live groups orphaned when no process matches the main pattern", () => {
    const withoutServer = metamcpBase().filter((p) => p.pid !== 10);
    const groups = groupsOf([...withoutServer, ...mcpGroup({ sid: 100, parent: 1 }), ...mcpGroup({ sid: 200, leaderAlive: false })]);
    expect(groups.map((g) => [g.sid, g.state])).toEqual([
      [100, "live"],
      [200, "orphaned"], // a gone leader needs no server to be recognised
    ]);
  });

  it("lists every process group of a session, so a child that made its own group is reaped too", () => {
    const group = mcpGroup({ sid: 100 });
    group[2] = { ...group[2], pgid: 102 };
    expect(groupsOf([...metamcpBase(), ...group])[0].pgids).toEqual([100, 102]);
  });

  it("ignores detached sessions whose command lines match no MCP pattern", () => {
    expect(groupsOf([...metamcpBase(), proc({ pid: 300, ppid: 10, cmd: "sleep 1000", sid: 300 })])).toEqual([]);
  });
});

describe("classify: what is never a group", () => {
  it.each([
    ["PID 1's session, even when PID 1 runs npx", [proc({ pid: 1, ppid: 0, cmd: "npx -y some-mcp-server", sid: 1 })]],
    [
      "the main server's session, even when it matches an MCP pattern",
      [...metamcpBase(), proc({ pid: 20, ppid: 1, cmd: "node dist/index.js --mcp", sid: 20 }), proc({ pid: 21, ppid: 20, cmd: "npm exec x", sid: 20 })],
    ],
    ["the monitor's own session", [...metamcpBase(), proc({ pid: 901, ppid: 900, cmd: "npm exec something", sid: 900 })]],
    ["a session entered with docker exec (parent outside the namespace)", [...metamcpBase(), proc({ pid: 400, ppid: 0, cmd: "npx @modelcontextprotocol/inspector x", sid: 400 })]],
    ["processes in a session outside the namespace (sid 0)", [...metamcpBase(), proc({ pid: 401, ppid: 0, cmd: "npx x y", sid: 0, pgid: 0 })]],
  ])("%s", (_, processes) => {
    const snapshot = classify(table([...processes, MONITOR]), OPTIONS);
    expect(snapshot.groups).toEqual([]);
  });

  it("reports the protected sessions", () => {
    const snapshot = classify(table([...metamcpBase(), MONITOR]), OPTIONS);
    expect(snapshot.protectedSessions).toEqual([0, 1, 900]);
    expect(snapshot.mainPids).toEqual([10]);
  });
});

describe("classify: totals and zombies", () => {
  it("counts processes, tasks (threads included) and RSS, and reports zombies with their parent", () => {
    const processes = [
      ...metamcpBase(),
      ...mcpGroup({ sid: 100 }),
      proc({ pid: 30, ppid: 10, cmd: "git status", sid: 1, pgid: 1, state: "Z" }),
    ];
    const snapshot = classify(table([...processes, { ...MONITOR, threads: 7 }]), OPTIONS);
    expect(snapshot.processes).toBe(9);
    // 1 + 11 + 1 + 7 (base) + 11 + 1 + 9 (group) + 1 (zombie); the monitor's 7 live in another cgroup.
    expect(snapshot.tasks).toBe(42);
    expect(snapshot.rssBytes).toBe(processes.reduce((sum, p) => sum + p.rssBytes, MONITOR.rssBytes));
    expect(snapshot.zombies).toEqual([{ pid: 30, ppid: 10, comm: "git", parentCmdline: "node dist/index.js" }]);
  });
});

describe("default patterns", () => {
  const matches = (cmdline: string) => OPTIONS.matcher.kind(cmdline) === "mcp";
  it.each([
    "npm exec @modelcontextprotocol/server-filesystem /data",
    "/usr/local/bin/node /usr/local/lib/node_modules/npm/bin/npm-cli.js exec @modelcontextprotocol/server-x",
    "npx -y @modelcontextprotocol/server-memory",
    "node /usr/local/bin/npx -y mcp-remote https://x",
    "uvx mcp-server-fetch",
    "/root/.local/bin/uvx mcp-server-time --local-timezone UTC",
    "node /home/app/.npm/_npx/1/node_modules/.bin/mcp-server-github",
    "python -m mcp_server_sqlite --db /data/x.db",
    "/usr/bin/python3.12 -m mcp_server_git",
  ])("match %s", (cmdline) => {
    expect(matches(cmdline)).toBe(true);
  });

  it.each(["node dist/index.js", "sh /app/docker-entrypoint.sh", "tail -n +1 -F /tmp/backend.out", "node server.js", "python app.py", "pnpm start"])(
    "do not match %s",
    (cmdline) => {
      expect(matches(cmdline)).toBe(false);
    },
  );

  it("the main pattern matches MetaMCP's backend as its entrypoint starts it", () => {
    expect(OPTIONS.matcher.kind("node dist/index.js")).toBe("main");
    expect(OPTIONS.matcher.kind("node /app/apps/backend/dist/index.js")).toBe("main");
    expect(OPTIONS.matcher.kind("node /home/app/.npm/_npx/1/node_modules/x/dist/index.js")).toBe("other");
  });
});
