/**
 * What the cgroup v2 suite needs beyond the engine suites' support: the gate (the VM must be there), a
 * throwaway stack whose containers are made from the stack's own derivation of its settings
 * (wantedContainers, the same functions the Pulumi components use), capped and started by the PidsLimit
 * provider exactly as `pulumi up` does, and a memory hog that says whether it was killed or swapped.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { plannedLoad } from "../../infra/capacity";
import type { StackConfig } from "../../infra/config";
import { dockerRequest } from "../../infra/pidsLimit/dockerApi";
import { pidsLimitProvider, type PidsLimitOutputs } from "../../infra/pidsLimit/provider";
import { readStackConfig } from "../../infra/verify/stackFile";
import type { WantedContainer } from "../../infra/verify/wanted";
import { docker, TEST_LABEL_KEY, TEST_OWNER_LABEL_KEY, type DockerCliError } from "../support/docker";
import { describeNeeding } from "../support/gate";
import { engineHost, v2HostDescription, V2HOST_ENV, type V2HostDescription } from "../support/engineHost";
import { readMemory, type ContainerCgroup } from "../load/support/cgroup";

/** Why the suite cannot run here, or undefined when the VM answers (checked once, at collection). */
export function v2HostUnavailableReason(): string | undefined {
  if (!v2HostDescription()) {
    return `no cgroup v2 VM (${V2HOST_ENV} is not set; \`bash scripts/v2host/ci.sh\` boots one and runs this suite)`;
  }
  return undefined;
}

/** `describe` for suites on the VM: skipped with the reason locally, a failing test in CI (CI=true). */
export function describeWithV2Host(name: string, fn: () => void): void {
  describeNeeding(name, v2HostUnavailableReason(), "the cgroup v2 VM", fn);
}

/** The VM's description; only call inside a suite that describeWithV2Host let run. */
export function vm(): V2HostDescription {
  const description = engineHost().ssh;
  if (!description) throw new Error(`${V2HOST_ENV} is not set`);
  return description;
}

/**
 * A throwaway stack on the VM: MetaMCP only (external database, no monitor, no session guard), the
 * smallest limits the stack accepts (MetaMCP's idle tree and one MCP server group, exactly, with no
 * headroom) so a hog and a fork loop pass them quickly in the VM's 2 GiB, and, with `slices`, the
 * stack's systemd slices on the VM over SSH as prod has them.
 */
export interface V2Stack {
  name: string;
  file: string;
  config: StackConfig;
  dispose(): void;
}

/** The capacity of the throwaway stacks: one MCP server group. */
const V2_CAPACITY = { groups: 1 } as const;

export function writeV2Stack(name: string, { slices }: { slices: boolean }): V2Stack {
  const host = vm();
  const dir = mkdtempSync(join(tmpdir(), "mmg-v2stack-"));
  const prefix = `mgv2-${name}-${process.pid}`;
  const document = {
    config: {
      // As an operator's stack names a remote engine; verify then reads the kernel over the same ssh.
      "metamcp-guard:dockerHost": host.sshDockerHost,
      "metamcp-guard:namePrefix": prefix,
      "metamcp-guard:app": { capacity: V2_CAPACITY, limits: smallestLimits() },
      "metamcp-guard:database": { mode: "external" },
      "metamcp-guard:monitor": { enabled: false },
      "metamcp-guard:guard": { enabled: false },
      "metamcp-guard:host": {
        // No parent: the stack's own, `<namePrefix>.slice` (mgv2-<name>-<pid>.slice), as every stack's is now.
        slices: { enabled: slices, cgroupDriver: "systemd", headroomPercent: 10 },
        ssh: { host: host.sshHost, port: host.sshPort, user: host.sshUser, hostKey: host.hostKey },
        keeper: { enabled: false },
      },
    },
  };
  const stack = `v2${name}${process.pid}`;
  const file = join(dir, `Pulumi.${stack}.yaml`);
  writeFileSync(file, stringify(document));
  const config = readStackConfig(stack, { projectDir: dir, configFile: file });
  return { name: stack, file, config, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The app limits the capacity check lets through for V2_CAPACITY: its planned load, to the task and the MiB. */
function smallestLimits() {
  const load = plannedLoad(V2_CAPACITY);
  const memory = `${load.memoryBytes / (1024 * 1024)}m`;
  return { memory, memorySwap: memory, cpus: 1, pids: load.tasks };
}

/**
 * An Engine API create body for a container as the stack wants it (its memory, swap, CPUs, init, restart
 * policy, log rotation, labels, security options, health check and slice), running `cmd` in `image`.
 * The health check runs once an hour: its command (Node's fetch) is not in the busybox image, and
 * verify compares only what it is.
 */
export function createBody(wanted: WantedContainer, image: string, cmd: string[]): Record<string, unknown> {
  return {
    Image: image,
    Cmd: cmd,
    Labels: { ...wanted.labels, [TEST_LABEL_KEY]: "1", [TEST_OWNER_LABEL_KEY]: String(process.pid) },
    ...(wanted.healthcheck.test ? { Healthcheck: { Test: wanted.healthcheck.test, Interval: 3600e9, Retries: 3 } } : {}),
    HostConfig: {
      NetworkMode: "none",
      Memory: wanted.memory,
      MemorySwap: wanted.memorySwap,
      NanoCpus: wanted.nanoCpus,
      Init: wanted.init === true,
      RestartPolicy: { Name: wanted.restart },
      LogConfig: { Type: wanted.log.type, Config: wanted.log.options },
      SecurityOpt: Object.entries(wanted.securityOptions).map(([option, value]) => `${option}:${value}`),
      ...(wanted.cgroupParent ? { CgroupParent: wanted.cgroupParent } : {}),
    },
  };
}

/**
 * Creates the container stopped (as docker.Container with `start: false`), then lets the PidsLimit
 * provider cap and start it (`create`, as `pulumi up` does). Resolves to its id and what the provider
 * recorded.
 */
export async function deployContainer(
  wanted: WantedContainer,
  image: string,
  cmd: string[],
): Promise<{ id: string; outs: PidsLimitOutputs }> {
  const dockerHost = vm().dockerHost;
  const res = await dockerRequest(dockerHost, "POST", `/containers/create?name=${encodeURIComponent(wanted.name)}`, createBody(wanted, image, cmd));
  if (res.status !== 201) throw new Error(`creating ${wanted.name} on the VM: ${res.status} ${res.body}`);
  const id = (JSON.parse(res.body) as { Id: string }).Id;
  const created = await pidsLimitProvider.create({
    dockerHost,
    containerId: id,
    limit: wanted.pidsLimit,
    memory: wanted.memory,
    memorySwap: wanted.memorySwap,
    running: true,
  });
  return { id, outs: created.outs! };
}

/** Whether a memory hog run in the container was killed (exit 137) or finished (0), and how long it took. */
export interface HogResult {
  exitCode: number | string | undefined;
  seconds: number;
}

/**
 * Allocates `mib` MiB inside the container and holds it until done: `dd` reads one block of that size
 * from /dev/zero into one buffer, so the kernel fills it (a user-space fill is slow under the VM's
 * emulated CPU). Under a memory cap with no swap it is OOM-killed (137); with swap allowed it finishes
 * (0), having swapped what did not fit.
 */
export async function runHog(containerId: string, mib: number): Promise<HogResult> {
  const started = Date.now();
  const exitCode = await docker("exec", containerId, "sh", "-c", `dd if=/dev/zero of=/dev/null bs=${mib}M count=1 2>/dev/null; exit $?`).then(
    () => 0 as number | string | undefined,
    (err: DockerCliError) => err.exitCode,
  );
  return { exitCode, seconds: (Date.now() - started) / 1000 };
}

/** A hog run while the cgroup's swap in use is sampled: what it did, the most swap seen, the OOM kills it caused. */
export async function watchedHog(cgroup: ContainerCgroup, mib: number): Promise<HogResult & { swapUsedMax: number; oomKills: number }> {
  const before = await readMemory(cgroup);
  const { result, max } = await sampledWhile(runHog(cgroup.containerId, mib), async () => (await readMemory(cgroup)).swapCurrent);
  const after = await readMemory(cgroup);
  return { ...result, swapUsedMax: max, oomKills: after.oomKills - before.oomKills };
}

/** Samples `read` every `everyMs` while `work` runs; resolves to work's result and the largest sample. */
export async function sampledWhile<T>(work: Promise<T>, read: () => Promise<number>, everyMs = 250): Promise<{ result: T; max: number }> {
  let running = true;
  let max = 0;
  const sampler = (async () => {
    while (running) {
      max = Math.max(max, await read());
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  let result: T;
  try {
    result = await work;
  } finally {
    running = false;
    await sampler;
  }
  return { result, max: Math.max(max, await read()) };
}

/** One line per figure in the CI log: `V2HOST-FIGURES {"scenario":…}` (the v1 suites print LOAD-FIGURES). */
export function reportV2Figures(scenario: string, figures: Record<string, unknown>): void {
  // The kernel's "max" is Infinity here, which JSON would print as null.
  const text = JSON.stringify({ scenario, host: "cgroup v2 VM", ...figures }, (_key, value) => (value === Infinity ? "max" : value));
  console.log(`V2HOST-FIGURES ${text}`);
}
