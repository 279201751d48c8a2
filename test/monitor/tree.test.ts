import { describe, expect, it } from "vitest";
import type { ProcessInfo } from "../../monitor/src/proc/reader";
import { classify, EMPTY_TREE_MEMORY, type TreeMemory } from "../../monitor/src/tree";
import { classifyOptions, mcpGroup, metamcpBase, metamcpReal, proc, table } from "./support/fixtures";

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
    expect(group.cmdline).toBe("sh -c mcp-server-s100");
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

  it("leaves sessions under PID 1 that match no MCP pattern out of the MCP groups (they are candidates in an emergency only)", () => {
    const snapshot = classify(table([...metamcpBase(), proc({ pid: 300, ppid: 1, cmd: "sleep 1000", sid: 300, threads: 2 }), MONITOR]), OPTIONS);
    expect(snapshot.groups).toEqual([]);
    expect(snapshot.others).toMatchObject([{ sid: 300, state: "other", tasks: 2, cmdline: "sleep 1000" }]);
  });

  it("takes a detached child of the main server for an MCP group whatever its command line (MetaMCP spawns nothing else detached)", () => {
    // A self-built server run as `node dist/index.js`: it matches the main pattern and no MCP pattern.
    const [group] = groupsOf([...metamcpBase(), proc({ pid: 300, ppid: 10, cmd: "node dist/index.js", sid: 300 })]);
    expect(group).toMatchObject({ sid: 300, state: "live" });
  });
});

describe("classify: the main server, by structure", () => {
  const main = (processes: ProcessInfo[], memory?: TreeMemory) => classify(table([...processes, MONITOR]), OPTIONS, memory);

  it("is the entrypoint's child when PID 1 is docker-init (MetaMCP's real tree)", () => {
    const snapshot = main([...metamcpReal(), ...mcpGroup({ sid: 100, parent: 20 })]);
    expect(snapshot.mainPid).toBe(20);
    expect(snapshot.protectedSessions).toEqual([0, 1, 900]);
    expect(snapshot.groups).toMatchObject([{ sid: 100, state: "live" }]);
  });

  it("is PID 1's child when the image runs without an init, and PID 1 itself when PID 1 is the backend", () => {
    expect(main(metamcpBase()).mainPid).toBe(10);
    expect(main([proc({ pid: 1, ppid: 0, cmd: "node dist/index.js", sid: 1 })]).mainPid).toBe(1);
  });

  it("is the nearest match below the entrypoint (a wrapper shell in between is fine), the oldest at that depth", () => {
    const wrapped = [
      proc({ pid: 1, ppid: 0, cmd: "/bin/sh /app/docker-entrypoint.sh", sid: 1 }),
      proc({ pid: 5, ppid: 1, cmd: "sh -c node dist/index.js", sid: 1, pgid: 1 }),
      proc({ pid: 6, ppid: 5, cmd: "node dist/index.js", sid: 1, pgid: 1, age: 500 }),
      proc({ pid: 8, ppid: 5, cmd: "node dist/index.js", sid: 1, pgid: 1, age: 900 }),
    ];
    expect(main(wrapped).mainPid).toBe(8);
  });

  it("is never a process in a session of its own: an impostor is neither the server nor a shield for its session", () => {
    // A self-built MCP server run as `node dist/index.js` that MetaMCP lost (re-parented to PID 1),
    // with a server of its own in its session and a detached one below it.
    const impostor = [
      proc({ pid: 300, ppid: 1, cmd: "node dist/index.js", sid: 300 }),
      proc({ pid: 301, ppid: 300, cmd: "npm exec @modelcontextprotocol/server-x", sid: 300 }),
      proc({ pid: 310, ppid: 300, cmd: "npm exec @modelcontextprotocol/server-y", sid: 310 }),
    ];
    const snapshot = main([...metamcpBase(), ...impostor]);
    expect(snapshot.mainPid).toBe(10);
    expect(snapshot.mainPatternPids).toEqual([10, 300]);
    expect(snapshot.protectedSessions).toEqual([0, 1, 900]);
    expect(snapshot.groups).toMatchObject([{ sid: 300, sessions: [300, 310], state: "orphaned", orphanReason: "reparented" }]);
  });

  it("with no match in PID 1's session there is no main server, whatever matches elsewhere", () => {
    const withoutServer = metamcpBase().filter((p) => p.pid !== 10);
    const snapshot = main([...withoutServer, proc({ pid: 300, ppid: 1, cmd: "node dist/index.js", sid: 300 })]);
    expect(snapshot.mainPid).toBeUndefined();
    expect(snapshot.mainPatternPids).toEqual([300]);
  });

  it("is followed once found, and found anew when it is gone (a restarted backend has a new pid)", () => {
    const first = main(metamcpBase());
    expect(first.memory.mainServer).toEqual({ pid: 10, startTime: metamcpBase()[1].startTime });
    // A second backend started beside it (in PID 1's session, older): the one found stays the server.
    const older = proc({ pid: 9, ppid: 1, cmd: "node dist/index.js", sid: 1, pgid: 1, age: 5000 });
    expect(main([...metamcpBase(), older], first.memory).mainPid).toBe(10);
    // The first exits and a new one starts under the entrypoint: found there.
    const restarted = [...metamcpBase().filter((p) => p.pid !== 10), proc({ pid: 77, ppid: 1, cmd: "node dist/index.js", sid: 1, pgid: 1, age: 5 })];
    expect(main(restarted, first.memory).mainPid).toBe(77);
    // Same pid, another start time: not the process remembered.
    const reused = [...metamcpBase().filter((p) => p.pid !== 10), proc({ pid: 10, ppid: 1, cmd: "node dist/index.js", sid: 1, pgid: 1, age: 5 })];
    expect(main(reused, first.memory).memory.mainServer).toEqual({ pid: 10, startTime: reused.at(-1)!.startTime });
  });
});

describe("classify: reaping by descent", () => {
  /** A detached helper (own session) started by the group's node process, as a browser is launched. */
  const helper = (pid: number, parent: number, more: Partial<Parameters<typeof proc>[0]> = {}) =>
    proc({ pid, ppid: parent, cmd: "/opt/chrome/chrome --headless --remote-debugging-port=9222", sid: pid, threads: 5, rssMiB: 40, ...more });

  it("puts a helper in a session of its own in the group it descends from, with its own helpers", () => {
    const [group, ...rest] = groupsOf([...metamcpBase(), ...mcpGroup({ sid: 100 }), helper(300, 102, { age: 300 }), helper(400, 300, { age: 200 })]);
    expect(rest).toEqual([]);
    expect(group).toMatchObject({ sid: 100, sessions: [100, 300, 400], pgids: [100, 300, 400], state: "live" });
    expect(group.members.map((m) => m.pid)).toEqual([100, 101, 102, 300, 400]);
    expect(group.tasks).toBe(11 + 1 + 9 + 5 + 5);
  });

  it("reaps a helper with its group when the group is orphaned", () => {
    const [group] = groupsOf([...metamcpBase(), ...mcpGroup({ sid: 100, leaderAlive: false }), helper(300, 102, { age: 300 })]);
    expect(group).toMatchObject({ sid: 100, sessions: [100, 300], state: "orphaned", orphanReason: "leader-gone" });
  });

  it("joins a session matching an MCP pattern to the group it descends from, too", () => {
    const nested = proc({ pid: 300, ppid: 102, cmd: "npx -y @modelcontextprotocol/server-memory", sid: 300 });
    const groups = groupsOf([...metamcpBase(), ...mcpGroup({ sid: 100 }), nested]);
    expect(groups.map((g) => [g.sid, g.sessions])).toEqual([[100, [100, 300]]]);
  });

  describe("by start time, for what escaped under PID 1 before it was seen", () => {
    const scan = (processes: ProcessInfo[], memory: TreeMemory = EMPTY_TREE_MEMORY) => classify(table([...metamcpBase(), ...processes, MONITOR]), OPTIONS, memory);

    it("joins a present orphaned group it started after", () => {
      const snapshot = scan([...mcpGroup({ sid: 100, leaderAlive: false, age: 600 }), helper(300, 1, { age: 100 })]);
      expect(snapshot.groups).toMatchObject([{ sid: 100, sessions: [100, 300] }]);
      expect(snapshot.others).toEqual([]);
    });

    it("is not matched with a group that started after it, nor with a live group", () => {
      const before = scan([...mcpGroup({ sid: 100, leaderAlive: false, age: 600 }), helper(300, 1, { age: 900 })]);
      expect(before.others.map((g) => g.sid)).toEqual([300]);
      const live = scan([...mcpGroup({ sid: 100, age: 600 }), helper(300, 1, { age: 100 })]);
      expect(live.others.map((g) => g.sid)).toEqual([300]);
      expect(live.groups).toMatchObject([{ sid: 100, sessions: [100] }]);
    });

    it("is an orphan of its own once the group it escaped has ended, and says from which", () => {
      const first = scan([...mcpGroup({ sid: 100, age: 600, server: "postgres" }), helper(300, 102, { age: 100 })]);
      expect(first.groups).toMatchObject([{ sid: 100, sessions: [100, 300] }]);
      // MetaMCP (or the monitor) ended group 100; the helper lived on, re-parented to PID 1.
      const after = scan([helper(300, 1, { age: 100 })], first.memory);
      expect(after.groups).toMatchObject([{ sid: 300, state: "orphaned", orphanReason: "escaped" }]);
      expect(after.groups[0].orphanDetail).toBe(
        "started while MCP group 100 (npm exec @modelcontextprotocol/server-postgres) ran, and left under PID 1 when it ended",
      );
    });

    it("remembers a group's first start time after its leader exits, and forgets ended groups after a while", () => {
      const seen = scan(mcpGroup({ sid: 100, age: 600 }));
      const leaderGone = scan(mcpGroup({ sid: 100, leaderAlive: false, age: 600 }), seen.memory);
      expect(leaderGone.memory.windows[0]).toMatchObject({ sid: 100, startTime: seen.groups[0].startTime, state: "orphaned" });
      const ended = scan([], leaderGone.memory);
      expect(ended.memory.windows).toMatchObject([{ sid: 100, present: false }]);
      const muchLater = classify({ ...table([...metamcpBase(), MONITOR]), uptimeSeconds: 10_000 + 601 }, OPTIONS, ended.memory);
      expect(muchLater.memory.windows).toEqual([]);
    });
  });
});

describe("classify: what is never a group", () => {
  it.each([
    ["PID 1's session, even when PID 1 runs npx", [proc({ pid: 1, ppid: 0, cmd: "npx -y some-mcp-server", sid: 1 })]],
    [
      "the main server's session, even when a process in it matches an MCP pattern",
      [...metamcpBase(), proc({ pid: 20, ppid: 10, cmd: "npm exec x", sid: 1, pgid: 1 })],
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
    expect(snapshot.mainPid).toBe(10);
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
    // The monitor's memory is charged to its own container, as its threads are.
    expect(snapshot.rssBytes).toBe(processes.reduce((sum, p) => sum + p.rssBytes, 0));
    expect(snapshot.zombies).toEqual([{ pid: 30, ppid: 10, comm: "git", parentCmdline: "node dist/index.js" }]);
  });
});

describe("classify: command lines are shown redacted", () => {
  const SECRET = "npm exec @modelcontextprotocol/server-postgres postgresql://app:S3cretPassw0rd@db:5432/app --api-key=sk-live-4eC39HqLyjWDarjtT1zdp7dc";
  const SHOWN = "npm exec @modelcontextprotocol/server-postgres postgresql://***@db:5432/app --api-key=***";

  it("in a group's command line, a reparented group's detail and a zombie's parent", () => {
    const wrapper = proc({ pid: 50, ppid: 1, cmd: SECRET, sid: 1, pgid: 1 });
    const group = mcpGroup({ sid: 100, parent: 50 });
    group[0] = { ...group[0], cmdline: SECRET };
    const zombie = proc({ pid: 60, ppid: 50, cmd: "sh", sid: 1, pgid: 1, state: "Z" });
    const snapshot = classify(table([...metamcpBase(), wrapper, zombie, ...group, MONITOR]), OPTIONS);
    expect(snapshot.groups[0].cmdline).toBe(SHOWN);
    expect(snapshot.groups[0].orphanDetail).toBe(`leader's parent is 50 (${SHOWN}), not the server`);
    expect(snapshot.zombies[0].parentCmdline).toBe(SHOWN);
    expect(JSON.stringify(snapshot.memory.windows)).not.toContain("S3cret");
  });

  it("with a command line the reader cut short losing its last, partial word", () => {
    const group = mcpGroup({ sid: 100 });
    group[0] = { ...group[0], cmdline: "npm exec @modelcontextprotocol/server-x --url https://h/ abc123", cmdlineTruncated: true };
    expect(groupsOf([...metamcpBase(), ...group])[0].cmdline).toBe("npm exec @modelcontextprotocol/server-x --url https://h/ …");
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
    "sh -c mcp-server-everything",
    "/usr/bin/python3 /root/.local/share/uv/tools/mcp-server-git/bin/mcp-server-git --repository /r",
    "/home/u/.nvm/versions/node/v20.19.0/bin/node /srv/mcp/server.js",
  ])("match %s", (cmdline) => {
    expect(matches(cmdline)).toBe(true);
  });

  it.each([
    "node dist/index.js",
    "sh /app/docker-entrypoint.sh",
    "tail -n +1 -F /tmp/backend.out",
    "node server.js",
    "python app.py",
    "pnpm start",
    "next-server (v15.4.8)",
    "/bin/sh -c node /srv/app.js mcp", // node must be the program, as it is when node runs a server
  ])(
    "do not match %s",
    (cmdline) => {
      expect(matches(cmdline)).toBe(false);
    },
  );

  it("the main pattern matches MetaMCP's backend as its entrypoint starts it (a check: the tree decides)", () => {
    expect(OPTIONS.matcher.kind("node dist/index.js")).toBe("main");
    expect(OPTIONS.matcher.kind("node /app/apps/backend/dist/index.js")).toBe("main");
    expect(OPTIONS.matcher.kind("node /home/app/.npm/_npx/1/node_modules/x/dist/index.js")).toBe("other");
  });
});
