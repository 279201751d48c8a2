/**
 * Bad input is refused before any resource is declared, with a message that names the key
 * and says what is allowed. Each row starts from the real dev stack file and breaks one thing.
 */
import { describe, expect, it } from "vitest";
import { ConfigError, parseStackConfig } from "../../infra/config";
import { rawStackConfig, TEST_HOST_KEY, TEST_SECRETS } from "../support/stackFiles";

/** The sshPrivateKey secret, for configs that push to the host. */
const SSH_KEY = { "metamcp-guard:sshPrivateKey": TEST_SECRETS["metamcp-guard:sshPrivateKey"] };

function problemsOf(stack: string, overrides: Record<string, unknown>, secretKeys?: string[]): string[] {
  try {
    parseStackConfig(rawStackConfig(stack, overrides, secretKeys));
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error("the config was accepted");
}

const BAD_CONFIGS: Array<[string, Record<string, unknown>, string, RegExp]> = [
  ["a typo'd limit key", { "metamcp-guard:app": { limits: { memroy: "1g" } } }, "metamcp-guard:app.limits.memroy", /not a known key; allowed: memory, memorySwap, cpus, pids/],
  ["a typo'd top-level key", { "metamcp-guard:databse": { mode: "internal" } }, "metamcp-guard:databse", /not a known key; allowed: .*database/],
  ["swap smaller than memory", { "metamcp-guard:app": { limits: { memorySwap: "512m" } } }, "metamcp-guard:app.limits.memorySwap", /^\S+ 512m must be at least memory \(2g\)/],
  ["a monitor duration that is not one (reported once)", { "metamcp-guard:monitor": { interval: "5" } }, "metamcp-guard:monitor.interval", /^\S+ "5" is not a duration/],
  ["a PID cap of 0", { "metamcp-guard:app": { limits: { pids: 0 } } }, "metamcp-guard:app.limits.pids", /0 is not a whole number from 8 to 32767/],
  ["a PID cap that caps nothing", { "metamcp-guard:app": { limits: { pids: 100000 } } }, "metamcp-guard:app.limits.pids", /from 8 to 32767/],
  ["a malformed size", { "metamcp-guard:app": { limits: { memory: "4x" } } }, "metamcp-guard:app.limits.memory", /"4x" is not a size; .*512m or 4g/],
  ["a size without a unit", { "metamcp-guard:database": { limits: { memory: "512" } } }, "metamcp-guard:database.limits.memory", /"512" is not a size/],
  ["memory below Docker's floor", { "metamcp-guard:app": { limits: { memory: "1m", memorySwap: "1m" } } }, "metamcp-guard:app.limits.memory", /out of range; allowed: 6m to 1t/],
  ["a CPU count that is not a number", { "metamcp-guard:app": { limits: { cpus: "two" } } }, "metamcp-guard:app.limits.cpus", /"two" is not a CPU count from 0.01 to 1024/],
  ["zero CPUs", { "metamcp-guard:monitor": { limits: { cpus: 0 } } }, "metamcp-guard:monitor.limits.cpus", /is not a CPU count/],
  ["a port out of range", { "metamcp-guard:app": { port: 70000 } }, "metamcp-guard:app.port", /70000 is not a whole number from 1 to 65535/],
  ["a restart policy that never restarts", { "metamcp-guard:app": { restart: "no" } }, "metamcp-guard:app.restart", /allowed: always, unless-stopped, on-failure/],
  ["an unknown database mode", { "metamcp-guard:database": { mode: "sqlite" } }, "metamcp-guard:database.mode", /allowed: internal, external/],
  ["a bad Docker host", { "metamcp-guard:dockerHost": "docker.example.com" }, "metamcp-guard:dockerHost", /"docker.example.com" is not a Docker host; write unix:\/\/\/var\/run\/docker.sock, ssh:\/\/user@host\[:port\] or tcp:\/\/127.0.0.1:<port>/],
  ["plain TCP to another host", { "metamcp-guard:dockerHost": "tcp://docker.example.com:2375" }, "metamcp-guard:dockerHost", /is plain TCP to another host: the stack's secrets would cross the network in clear .* use ssh:\/\/user@host/],
  ["tcp:// without a port", { "metamcp-guard:dockerHost": "tcp://127.0.0.1" }, "metamcp-guard:dockerHost", /"tcp:\/\/127.0.0.1" has no port/],
  ["tcp:// with a port that is not a number", { "metamcp-guard:dockerHost": "tcp://127.0.0.1:docker" }, "metamcp-guard:dockerHost", /"tcp:\/\/127.0.0.1:docker" is not a Docker host/],
  ["an ssh:// host read as an ssh option", { "metamcp-guard:dockerHost": "ssh://-oProxyCommand=touch" }, "metamcp-guard:dockerHost", /names a host starting with '-', which ssh reads as an option/],
  ["a password in the Docker host", { "metamcp-guard:dockerHost": "ssh://deploy:hunter2@host" }, "metamcp-guard:dockerHost", /holds a password; remove it and use an SSH key/],
  ["a name prefix in capitals (the monitor's image name must be lowercase)", { "metamcp-guard:namePrefix": "MetaMCP-Dev" }, "metamcp-guard:namePrefix", /"MetaMCP-Dev" is not a name prefix; use 2 to 48 lowercase letters/],
  ["a one-letter name prefix", { "metamcp-guard:namePrefix": "m" }, "metamcp-guard:namePrefix", /"m" is not a name prefix/],
  ["a name prefix with a double dash (a slice would nest wrongly)", { "metamcp-guard:namePrefix": "meta--dev" }, "metamcp-guard:namePrefix", /is not a name prefix/],
  ["a one-letter volume name", { "metamcp-guard:database": { volumeName: "v" } }, "metamcp-guard:database.volumeName", /"v" is not a Docker name; use two or more/],
  ["an image repository in capitals", { "metamcp-guard:app": { image: "ghcr.io/Metatool-AI/metamcp:2.4.22" } }, "metamcp-guard:app.image", /"ghcr.io\/Metatool-AI\/metamcp:2.4.22" is not an image reference/],
  ["a bind address that is not an IP (999.1.1.1)", { "metamcp-guard:app": { bindAddress: "999.1.1.1" } }, "metamcp-guard:app.bindAddress", /"999.1.1.1" is not an IP address/],
  ["a bind address that is not an IP (cafe)", { "metamcp-guard:app": { bindAddress: "cafe" } }, "metamcp-guard:app.bindAddress", /"cafe" is not an IP address/],
  ["a metrics host that is not an IP", { "metamcp-guard:monitor": { metrics: { host: "cafe" } } }, "metamcp-guard:monitor.metrics.host", /"cafe" is not an IP address/],
  ["a public URL that is not http(s)", { "metamcp-guard:app": { publicUrl: "ftp://mcp.example.com" } }, "metamcp-guard:app.publicUrl", /"ftp:\/\/mcp.example.com" is not an http\(s\) URL with a host/],
  ["a public URL without a host", { "metamcp-guard:app": { publicUrl: "https://" } }, "metamcp-guard:app.publicUrl", /is not an http\(s\) URL with a host/],
  ["a zero health-check timeout", { "metamcp-guard:app": { healthcheck: { timeout: "0s" } } }, "metamcp-guard:app.healthcheck.timeout", /"0s" is zero/],
  ["a log size that is not a size", { "metamcp-guard:logging": { maxSize: "lots" } }, "metamcp-guard:logging.maxSize", /"lots" is not a size/],
  ["an RSS budget above MetaMCP's memory", { "metamcp-guard:monitor": { rssBudget: "3g" } }, "metamcp-guard:monitor.rssBudget", /3g is not below app.limits.memory \(2g\)/],
  ["a kill grace longer than the orphan grace", { "metamcp-guard:monitor": { killGrace: "1m", orphanGrace: "30s" } }, "metamcp-guard:monitor.killGrace", /1m is longer than monitor.orphanGrace \(30s\)/],
  ["a session lifetime that ends sessions before the guard's idle timeout", { "metamcp-guard:app": { settings: { sessionLifetime: "20m" } } }, "metamcp-guard:app.settings.sessionLifetime", /20m is not longer than guard.idleTimeout \(30m\): MetaMCP would end sessions in use/],
  ["a guard idle timeout the guard refuses", { "metamcp-guard:guard": { idleTimeout: "soon" } }, "metamcp-guard:guard.idleTimeout", /"soon"/],
  ["a typo'd guard key", { "metamcp-guard:guard": { idletimeout: "10m" } }, "metamcp-guard:guard.idletimeout", /not a known key; allowed: enabled, image, limits/],
  ["the guard's metrics on MetaMCP's port", { "metamcp-guard:guard": { metrics: { hostPort: 12008 } } }, "metamcp-guard:guard.metrics.hostPort", /12008 is already published by app.port/],
  ["an unpinned guard image in a production stack", { "metamcp-guard:production": true, "metamcp-guard:guard": { image: "registry.example.com/guard" } }, "metamcp-guard:guard.image", /has no tag; a production stack pins every image/],
  ["MetaMCP's port on the monitor's", { "metamcp-guard:monitor": { metrics: { hostPort: 12008 } } }, "metamcp-guard:monitor.metrics.hostPort", /12008 is already published by app.port/],
  ["an unpinned image in a production stack", { "metamcp-guard:production": true, "metamcp-guard:app": { image: "ghcr.io/metatool-ai/metamcp:latest" } }, "metamcp-guard:app.image", /is tagged latest; a production stack pins every image/],
  ["an untagged image in a production stack", { "metamcp-guard:production": true, "metamcp-guard:database": { image: "postgres" } }, "metamcp-guard:database.image", /"postgres" has no tag; a production stack pins every image/],
  ["a managed variable in app.env", { "metamcp-guard:app": { env: { DATABASE_URL: "postgresql://x" } } }, "metamcp-guard:app.env.DATABASE_URL", /set by the stack/],
  ["an image with spaces", { "metamcp-guard:app": { image: "metamcp latest" } }, "metamcp-guard:app.image", /repository:tag or repository@sha256/],
  ["a bad health-check interval", { "metamcp-guard:app": { healthcheck: { interval: "thirty" } } }, "metamcp-guard:app.healthcheck.interval", /not a duration/],
  ["a PID cap that cannot hold the capacity", { "metamcp-guard:app": { limits: { pids: 100 } } }, "metamcp-guard:app.limits.pids", /^\S+ 100 cannot hold MetaMCP at app.capacity: .* need 185; raise it, or leave it unset to get 232$/],
  ["memory that cannot hold the capacity", { "metamcp-guard:app": { limits: { memory: "1g", memorySwap: "1g" } } }, "metamcp-guard:app.limits.memory", /1g cannot hold MetaMCP at app.capacity: .* need 1728m/],
  ["capacity given both ways", { "metamcp-guard:app": { capacity: { groups: 4 } } }, "metamcp-guard:app.capacity.groups", /cannot be combined with sessions, serversPerNamespace; give either groups or sessions and serversPerNamespace/],
  ["a typo'd capacity key", { "metamcp-guard:app": { capacity: { session: 4 } } }, "metamcp-guard:app.capacity.session", /not a known key; allowed: groups, sessions, serversPerNamespace, namespaces/],
  ["swap without memory", { "metamcp-guard:app": { limits: { memory: undefined } } }, "metamcp-guard:app.limits.memorySwap", /needs app.limits.memory set too/],
  ["an emergency threshold at MetaMCP's idle load", { "metamcp-guard:monitor": { emergencyTasks: 90 } }, "metamcp-guard:monitor.emergencyTasks", /90 is at or below MetaMCP's idle load \(93 tasks with no client\)/],
  ["MetaMCP's session lifetime as an environment variable", { "metamcp-guard:app": { env: { SESSION_LIFETIME: "3600000" } } }, "metamcp-guard:app.env.SESSION_LIFETIME", /not read from the environment by MetaMCP 2.4.22; set app.settings.sessionLifetime instead/],
  ["a session lifetime that is not a duration", { "metamcp-guard:app": { settings: { sessionLifetime: "1 day" } } }, "metamcp-guard:app.settings.sessionLifetime", /"1 day" is not a duration from 5m to 24h/],
  ["a session lifetime above MetaMCP's own bound", { "metamcp-guard:app": { settings: { sessionLifetime: "48h" } } }, "metamcp-guard:app.settings.sessionLifetime", /"48h" is not a duration from 5m to 24h/],
  ["a max-attempts of 0", { "metamcp-guard:app": { settings: { maxAttempts: 0 } } }, "metamcp-guard:app.settings.maxAttempts", /0 is not a whole number from 1 to 10/],
  ["a key in a misspelt namespace", { "metamcp-gaurd:monitor": { enabled: false } }, "metamcp-gaurd:monitor", /is not a key of this project; write it under metamcp-guard: \(such as metamcp-guard:monitor\)/],
  ["a key with no namespace", { monitor: { enabled: false } }, "monitor", /is not a key of this project/],
  ["no limits for MetaMCP", { "metamcp-guard:app": { limits: undefined } }, "metamcp-guard:app.limits", /is required/],
  ["swap on a container that sits in a no-swap slice", { "metamcp-guard:host": { slices: { enabled: true }, ssh: { host: "10.0.0.5", hostKey: TEST_HOST_KEY } }, "metamcp-guard:app": { limits: { memorySwap: "3g" } } }, "metamcp-guard:app.limits.memorySwap", /must equal memory when host.slices.enabled is true/],
  ["slices without SSH settings", { "metamcp-guard:host": { slices: { enabled: true } } }, "metamcp-guard:host.ssh", /required when host.slices.enabled/],
  ["the monitor keeper without SSH settings", { "metamcp-guard:host": { keeper: { enabled: true } } }, "metamcp-guard:host.ssh", /^\S+ is required when host.keeper.enabled is true: the host's name and its pinned hostKey \(ssh-keyscan -t ed25519 <host>/],
  // Issue 12: whatever is pushed over SSH, and an ssh:// Docker host, checks a pinned host key.
  ["slices pushed over SSH without a pinned host key", { "metamcp-guard:host": { slices: { enabled: true }, ssh: { host: "10.0.0.5" } } }, "metamcp-guard:host.ssh.hostKey", /is required when host.slices.enabled or host.keeper.enabled is true: every SSH connection to the host checks this key and no other; get it with ssh-keyscan -t ed25519 10.0.0.5/],
  ["the keeper pushed over SSH without a pinned host key", { "metamcp-guard:host": { ssh: { host: "10.0.0.5", port: 2222 } } }, "metamcp-guard:host.ssh.hostKey", /is required when host.keeper.enabled is true: .*ssh-keyscan -t ed25519 -p 2222 10.0.0.5/],
  ["an ssh:// Docker host without host.ssh to pin its key", { "metamcp-guard:dockerHost": "ssh://deploy@docker.example.internal" }, "metamcp-guard:host.ssh", /is required when dockerHost is ssh:\/\/deploy@docker.example.internal: its hostKey pins the Docker host's SSH key for every connection .*ssh-keyscan -t ed25519 docker.example.internal/],
  ["an ssh:// Docker host with host.ssh but no key", { "metamcp-guard:dockerHost": "ssh://deploy@h:2200", "metamcp-guard:host": { ssh: { host: "h", port: 2200 }, keeper: { enabled: false } } }, "metamcp-guard:host.ssh.hostKey", /^\S+ is required when dockerHost is ssh:\/\/deploy@h:2200: every SSH connection/],
  ["an SSH host read as an ssh option", { "metamcp-guard:host": { ssh: { host: "-oProxyCommand=touch", hostKey: TEST_HOST_KEY } } }, "metamcp-guard:host.ssh.host", /"-oProxyCommand=touch" starts with '-', which ssh reads as an option/],
  // Issue 12: the stack writes only slices of its own prefix, never systemd's own.
  ...["system.slice", "user.slice", "machine.slice", "user-1000.slice", "system-getty.slice", "metamcp.slice", "metamcp-staging.slice", "metamcp-devx.slice"].map(
    (parent): [string, Record<string, unknown>, string, RegExp] => [
      `a parent slice the dev stack does not own: ${parent}`,
      { "metamcp-guard:host": { slices: { enabled: true, parent }, ssh: { host: "10.0.0.5", hostKey: TEST_HOST_KEY } } },
      "metamcp-guard:host.slices.parent",
      new RegExp(`^\\S+ "${parent.replace(/\./g, "\\.")}" is not a slice of this stack; allowed: metamcp-dev\\.slice or metamcp-dev-<name>\\.slice`),
    ],
  ),
  ["a parent slice that is not a slice unit", { "metamcp-guard:host": { slices: { parent: "init.scope" } } }, "metamcp-guard:host.slices.parent", /is not a slice unit name/],
  ["the root slice as the parent", { "metamcp-guard:host": { slices: { parent: "-.slice" } } }, "metamcp-guard:host.slices.parent", /is not a slice unit name/],
  ...["system", "user", "machine", "user-1000", "capsule"].map((namePrefix): [string, Record<string, unknown>, string, RegExp] => [
    `a name prefix inside systemd's own slices: ${namePrefix}`,
    { "metamcp-guard:namePrefix": namePrefix, "metamcp-guard:host": { slices: { enabled: true }, ssh: { host: "10.0.0.5", hostKey: TEST_HOST_KEY } } },
    "metamcp-guard:namePrefix",
    new RegExp(`would put the stack's slices \\(${namePrefix}\\.slice\\) inside systemd's own ${namePrefix.split("-")[0]}\\.slice`),
  ]),
  ["slices and the keeper without SSH settings", { "metamcp-guard:host": { slices: { enabled: true }, keeper: { enabled: true } } }, "metamcp-guard:host.ssh", /required when host.slices.enabled or host.keeper.enabled is true/],
  ["a keeper interval out of range", { "metamcp-guard:host": { keeper: { interval: "5m" } } }, "metamcp-guard:host.keeper.interval", /"5m" is not an interval from 2s to 1m/],
  ["a typo'd keeper key", { "metamcp-guard:host": { keeper: { enable: true } } }, "metamcp-guard:host.keeper.enable", /not a known key; allowed: enabled, interval/],
];

describe("bad stack configs are refused with the key named", () => {
  it.each(BAD_CONFIGS)("%s", (_label, overrides, key, allowed) => {
    const problems = problemsOf("dev", overrides);
    const problem = problems.find((p) => p.startsWith(`${key} `));
    expect(problem, `problems were: ${problems.join(" | ")}`).toBeDefined();
    expect(problem).toMatch(allowed);
  });
});

describe("settings Docker accepts are accepted", () => {
  it.each<[string, Record<string, unknown>]>([
    ["a tag with capitals", { "metamcp-guard:app": { image: "ghcr.io/metatool-ai/metamcp:2.4.22-RC1" } }],
    ["a registry with a port and a digest", { "metamcp-guard:database": { image: `registry.local:5000/lib/postgres@sha256:${"a".repeat(64)}` } }],
    ["a log size in Docker's other spelling", { "metamcp-guard:logging": { maxSize: "10MB" } }],
    ["plain TCP to this machine's loopback", { "metamcp-guard:dockerHost": "tcp://127.0.0.1:2375" }],
    ["plain TCP to the IPv6 loopback", { "metamcp-guard:dockerHost": "tcp://[::1]:2375" }],
    ["an IPv6 bind address", { "metamcp-guard:app": { bindAddress: "::1" } }],
    ["an untagged image outside production (warned, not refused)", { "metamcp-guard:app": { image: "ghcr.io/metatool-ai/metamcp" } }],
    ["the stack's own parent slice, written out", { "metamcp-guard:host": { slices: { enabled: true, parent: "metamcp-dev.slice" }, ssh: { host: "h", hostKey: TEST_HOST_KEY } }, ...SSH_KEY }],
    ["a parent slice below the stack's own", { "metamcp-guard:host": { slices: { enabled: true, parent: "metamcp-dev-team.slice" }, ssh: { host: "h", hostKey: TEST_HOST_KEY } }, ...SSH_KEY }],
    ["an ssh:// Docker host pinned by host.ssh (an ssh_config alias is fine: the key identifies the host)", { "metamcp-guard:dockerHost": "ssh://prodbox", "metamcp-guard:host": { ssh: { host: "10.0.0.5", hostKey: TEST_HOST_KEY }, keeper: { enabled: false } } }],
  ])("%s", (_label, overrides) => {
    expect(() => parseStackConfig(rawStackConfig("dev", overrides))).not.toThrow();
  });
});

describe("secrets", () => {
  it("never repeats a password found in the Docker host", () => {
    const problems = problemsOf("dev", { "metamcp-guard:dockerHost": "ssh://deploy:hunter2@host" });
    expect(problems.join("\n")).not.toContain("hunter2");
  });

  it("refuses a missing auth secret and says how to set it", () => {
    const problems = problemsOf("dev", { "metamcp-guard:authSecret": undefined });
    expect(problems).toContain("metamcp-guard:authSecret is required; set it with: pulumi config set --secret authSecret <value>");
  });

  it("refuses a secret stored in plain text", () => {
    const problems = problemsOf("dev", {}, ["metamcp-guard:authSecret"]);
    expect(problems.join("\n")).toMatch(/metamcp-guard:postgresPassword is stored in plain text/);
  });

  it("never repeats a secret's value in a message", () => {
    const problems = problemsOf("dev", { "metamcp-guard:postgresPassword": "short" });
    expect(problems).toEqual(["metamcp-guard:postgresPassword must be at least 12 characters"]);
  });

  it("asks for databaseUrl when the database is external", () => {
    const problems = problemsOf("dev", { "metamcp-guard:database": { mode: "external" }, "metamcp-guard:postgresPassword": undefined });
    expect(problems).toEqual(["metamcp-guard:databaseUrl is required; set it with: pulumi config set --secret databaseUrl <value>"]);
  });

  it("asks for sshPrivateKey when only the monitor keeper pushes to the host", () => {
    const problems = problemsOf("dev", { "metamcp-guard:host": { ssh: { host: "10.0.0.5", hostKey: TEST_HOST_KEY } } });
    expect(problems).toEqual(["metamcp-guard:sshPrivateKey is required; set it with: pulumi config set --secret sshPrivateKey <value>"]);
  });

  it("refuses sshPrivateKey when nothing is pushed (keeper on, but no monitor to keep)", () => {
    const problems = problemsOf("dev", {
      "metamcp-guard:host": { ssh: { host: "10.0.0.5", hostKey: TEST_HOST_KEY } },
      "metamcp-guard:monitor": { enabled: false },
      "metamcp-guard:sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n",
    });
    expect(problems).toEqual([expect.stringMatching(/^metamcp-guard:sshPrivateKey is only used when something is pushed to the host/)]);
  });

  it("reports secret problems in the same pass as the settings' problems", () => {
    const problems = problemsOf("dev", { "metamcp-guard:app": { port: 0 }, "metamcp-guard:authSecret": undefined });
    expect(problems).toEqual([
      "metamcp-guard:app.port 0 is not a whole number from 1 to 65535",
      "metamcp-guard:authSecret is required; set it with: pulumi config set --secret authSecret <value>",
    ]);
  });

  it("says how to remove a password left over from the internal database", () => {
    const problems = problemsOf("dev", {
      "metamcp-guard:database": { mode: "external" },
      "metamcp-guard:databaseUrl": "postgresql://app@db.example.com:5432/app",
    });
    expect(problems).toEqual(["metamcp-guard:postgresPassword is only used with database.mode internal; remove it: pulumi config rm postgresPassword"]);
  });

  it("reports a bad monitor duration once", () => {
    expect(problemsOf("dev", { "metamcp-guard:monitor": { interval: "5" } })).toHaveLength(1);
  });

  it("lists every problem at once, not just the first", () => {
    const problems = problemsOf("dev", { "metamcp-guard:app": { port: 0, limits: { pids: 1, memory: "lots" } } });
    expect(problems.length).toBeGreaterThanOrEqual(3);
  });
});
