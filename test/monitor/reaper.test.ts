import { describe, expect, it } from "vitest";
import type { ProcStat } from "../../monitor/src/proc/parse";
import { reapGroup, type ReaperIo, type ReapTarget, type Signal } from "../../monitor/src/reaper";

type Behaviour = "exits-on-term" | "ignores-term" | "unkillable";

interface FakeProcess {
  pid: number;
  pgid: number;
  startTime: number;
  behaviour: Behaviour;
  state: "S" | "Z" | "gone";
}

/** A process table that reacts to signals as the behaviours say, on a fake clock. */
class FakeKernel implements ReaperIo {
  clock = 0;
  readonly calls: string[] = [];
  refuse?: string;

  constructor(readonly table: Map<number, FakeProcess>) {}

  readStat(pid: number): ProcStat | "gone" | "denied" {
    const p = this.table.get(pid);
    if (!p || p.state === "gone") return "gone";
    return { pid, comm: "x", state: p.state, ppid: 1, pgid: p.pgid, sid: p.pgid, cpuTicks: 0, threads: 1, startTime: p.startTime, rssPages: 1 };
  }

  kill(pid: number, signal: Signal): void {
    this.calls.push(`${signal} ${pid}`);
    if (this.refuse) throw Object.assign(new Error("refused"), { code: this.refuse });
    const members = [...this.table.values()].filter((p) => p.pgid === -pid && p.state === "S");
    if (members.length === 0) throw Object.assign(new Error("no such process"), { code: "ESRCH" });
    for (const p of members) {
      if (signal === "SIGKILL" ? p.behaviour !== "unkillable" : p.behaviour === "exits-on-term") p.state = "Z";
    }
  }

  async sleep(ms: number): Promise<void> {
    this.clock += ms;
  }

  now(): number {
    return this.clock;
  }
}

function kernel(...processes: Array<Partial<FakeProcess> & { pid: number }>): FakeKernel {
  return new FakeKernel(
    new Map(processes.map((p) => [p.pid, { pgid: 100, startTime: 5000, behaviour: "exits-on-term", state: "S", ...p } as FakeProcess])),
  );
}

const TARGET: ReapTarget = {
  sid: 100,
  members: [
    { pid: 100, pgid: 100, startTime: 5000 },
    { pid: 101, pgid: 100, startTime: 5000 },
  ],
};
const OPTIONS = { killGraceMs: 5000, dryRun: false, pollMs: 100 };

describe("reapGroup", () => {
  it("sends SIGTERM to the process group and stops there when the group exits", async () => {
    const k = kernel({ pid: 100 }, { pid: 101 });
    const result = await reapGroup(TARGET, OPTIONS, k);
    expect(result).toMatchObject({ outcome: "exited", signals: ["SIGTERM"] });
    expect(k.calls).toEqual(["SIGTERM -100"]);
    expect(result.durationMs).toBe(0);
  });

  it("waits the grace, then sends SIGKILL to survivors", async () => {
    const k = kernel({ pid: 100 }, { pid: 101, behaviour: "ignores-term" });
    const result = await reapGroup(TARGET, OPTIONS, k);
    expect(result).toMatchObject({ outcome: "killed", signals: ["SIGTERM", "SIGKILL"] });
    expect(k.calls).toEqual(["SIGTERM -100", "SIGKILL -100"]);
    expect(result.durationMs).toBe(5000);
  });

  it("reports a process that survives SIGKILL (stuck in the kernel)", async () => {
    const k = kernel({ pid: 100, behaviour: "unkillable" }, { pid: 101 });
    expect(await reapGroup(TARGET, OPTIONS, k)).toMatchObject({ outcome: "survived", signals: ["SIGTERM", "SIGKILL"] });
  });

  it("never signals a pid that was reused: a different start time means not our process", async () => {
    const k = kernel({ pid: 100, startTime: 9999 }, { pid: 101, startTime: 9999 });
    expect(await reapGroup(TARGET, OPTIONS, k)).toMatchObject({ outcome: "vanished", signals: [] });
    expect(k.calls).toEqual([]);
  });

  it("re-reads start times before SIGKILL too: a group replaced during the grace is left alone", async () => {
    const k = kernel({ pid: 100, behaviour: "ignores-term" }, { pid: 101, behaviour: "ignores-term" });
    const sleep = k.sleep.bind(k);
    k.sleep = async (ms) => {
      await sleep(ms);
      // During the grace, our processes exit and new, unrelated ones get the same pids.
      for (const p of k.table.values()) p.startTime = 7777;
    };
    expect(await reapGroup(TARGET, OPTIONS, k)).toMatchObject({ outcome: "exited", signals: ["SIGTERM"] });
    expect(k.calls).toEqual(["SIGTERM -100"]);
  });

  it("does not signal a process that moved to another process group", async () => {
    const k = kernel({ pid: 100, pgid: 555 }, { pid: 101, pgid: 555 });
    expect(await reapGroup(TARGET, OPTIONS, k)).toMatchObject({ outcome: "vanished" });
    expect(k.calls).toEqual([]);
  });

  it("signals each process group of a session", async () => {
    const k = kernel({ pid: 100 }, { pid: 101, pgid: 101 });
    const target: ReapTarget = { sid: 100, members: [{ pid: 100, pgid: 100, startTime: 5000 }, { pid: 101, pgid: 101, startTime: 5000 }] };
    expect(await reapGroup(target, OPTIONS, k)).toMatchObject({ outcome: "exited" });
    expect(k.calls).toEqual(["SIGTERM -100", "SIGTERM -101"]);
  });

  it("never signals process group 1 or 0, whatever it is given", async () => {
    const k = kernel({ pid: 1, pgid: 1 }, { pid: 5, pgid: 0 });
    const target: ReapTarget = { sid: 1, members: [{ pid: 1, pgid: 1, startTime: 5000 }, { pid: 5, pgid: 0, startTime: 5000 }] };
    expect(await reapGroup(target, OPTIONS, k)).toMatchObject({ outcome: "vanished" });
    expect(k.calls).toEqual([]);
  });

  it("counts zombies as gone", async () => {
    const k = kernel({ pid: 100, state: "Z" }, { pid: 101, state: "Z" });
    expect(await reapGroup(TARGET, OPTIONS, k)).toMatchObject({ outcome: "vanished" });
  });

  it("reports EPERM as a failure with the signal and group", async () => {
    const k = kernel({ pid: 100 }, { pid: 101 });
    k.refuse = "EPERM";
    expect(await reapGroup(TARGET, OPTIONS, k)).toMatchObject({ outcome: "failed", signals: [], error: "SIGTERM to group 100: EPERM" });
  });

  it("signals nothing in dry-run", async () => {
    const k = kernel({ pid: 100 }, { pid: 101 });
    expect(await reapGroup(TARGET, { ...OPTIONS, dryRun: true }, k)).toMatchObject({ outcome: "dry-run", signals: [] });
    expect(k.calls).toEqual([]);
    expect(k.table.get(100)!.state).toBe("S");
  });
});
