/**
 * What each real stack file must produce. MetaMCP's PID caps are derived from each file's
 * app.capacity by the capacity model (README, "Sizing"): dev 6 server groups → 232, prod 18 → 577.
 */
export const STACKS = {
  dev: {
    app: { memoryMiB: 2048, cpus: "1", pids: 232 },
    db: { memoryMiB: 256, cpus: "0.5", pids: 64 },
    bindAddress: "127.0.0.1",
    logs: { "max-size": "10m", "max-file": "3" },
    protectData: true,
    guardIdleTimeout: "30m",
  },
  prod: {
    app: { memoryMiB: 4096, cpus: "2", pids: 577 },
    db: { memoryMiB: 1024, cpus: "1", pids: 100 },
    bindAddress: "127.0.0.1",
    logs: { "max-size": "50m", "max-file": "5" },
    protectData: true,
    guardIdleTimeout: "30m",
  },
} as const;

export type StackName = keyof typeof STACKS;
export const STACK_NAMES = Object.keys(STACKS) as StackName[];

export const CONTAINER = "docker:index/container:Container";
export const VOLUME = "docker:index/volume:Volume";
export const NETWORK = "docker:index/network:Network";
export const REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage";
export const DYNAMIC = "pulumi-nodejs:dynamic:Resource";
