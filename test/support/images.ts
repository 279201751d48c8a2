/**
 * Test images built from files on this machine, because no registry can be reached here: `docker import` of a
 * folder, no pull, no build context, no network. Each builder reuses an existing image and builds at most once
 * per process.
 *
 *     const image = await busyboxImage();   // "metamcp-guard-test/busybox:local": sh, sleep, ps, cat, …
 *     const node = await nodeImage();       // "metamcp-guard-test/node:local": /usr/local/bin/node + busybox sh
 *     const npm = await nodeNpmImage();     // the same plus npm and an offline npm cache: a base for `docker build`
 */
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { docker } from "./dockerCli";

export const BUSYBOX_IMAGE = "metamcp-guard-test/busybox:local";
export const NODE_IMAGE = "metamcp-guard-test/node:local";
export const NODE_NPM_IMAGE = "metamcp-guard-test/node-npm:local";

/** Debian's busybox-static installs here; a dynamically linked busybox would not run in an empty image. */
const BUSYBOX_PATH = "/bin/busybox";
/**
 * Image labels. Not TEST_LABEL: containers inherit their image's labels, and removeTestContainers() would then
 * remove containers that tests did not mean to label.
 */
const IMAGE_LABEL = "metamcp-guard.test-image";
/** Records which node binary went in, so a changed Node version rebuilds the image. */
const NODE_VERSION_LABEL = "metamcp-guard.test-image.node-version";
/** Records which npm cache went in (its index's size and age), so a fuller cache rebuilds the image. */
const NPM_CACHE_LABEL = "metamcp-guard.test-image.npm-cache";

/**
 * `build` run at most once per process, its promise shared by every caller. A failed build is not kept: the
 * next caller may have installed the missing package meanwhile.
 */
export function oncePerProcess(build: () => Promise<string>): () => Promise<string> {
  let running: Promise<string> | undefined;
  return () => {
    running ??= build().catch((err) => {
      running = undefined;
      throw err;
    });
    return running;
  };
}

/** Name of a busybox image with applet links in /bin (PATH=/bin); builds it if missing. */
export const busyboxImage = oncePerProcess(async () => {
  if ((await imageLabel(BUSYBOX_IMAGE, IMAGE_LABEL)) !== undefined) return BUSYBOX_IMAGE;
  await withTempDir(async (root) => {
    addBusybox(root);
    await importFolder(root, BUSYBOX_IMAGE, ["ENV PATH=/bin", 'CMD ["sh"]', `LABEL ${IMAGE_LABEL}=busybox`]);
  });
  return BUSYBOX_IMAGE;
});

/**
 * Name of an image holding the Node binary running this process (`process.execPath`, i.e. `command -v node`),
 * the shared libraries `ldd` lists for it, and busybox for /bin/sh. Builds it if missing or if it holds another
 * Node version.
 */
export const nodeImage = oncePerProcess(async () => {
  if ((await imageLabel(NODE_IMAGE, NODE_VERSION_LABEL)) === process.version) return NODE_IMAGE;
  await withTempDir(async (root) => {
    addBusybox(root);
    addNode(root);
    await importFolder(root, NODE_IMAGE, [
      "ENV PATH=/usr/local/bin:/bin",
      'CMD ["node"]',
      `LABEL ${IMAGE_LABEL}=node`,
      `LABEL ${NODE_VERSION_LABEL}=${process.version}`,
    ]);
  });
  return NODE_IMAGE;
});

/**
 * Name of an image to build our Dockerfiles FROM (`--build-arg NODE_IMAGE=…`) with no registry: the Node of
 * nodeImage(), the npm running here (at /usr/local/lib/node_modules/npm) and a copy of this machine's npm
 * cache, with npm set to install offline from it. `npm ci` of a lock whose packages the repository's own
 * install fetched (the guard's and the monitor's are subsets of the root lock) then works with no network.
 */
export const nodeNpmImage = oncePerProcess(async () => {
  const npmRoot = path.dirname(path.dirname(fs.realpathSync(execFileSync("sh", ["-c", "command -v npm"], { encoding: "utf8" }).trim())));
  const cache = path.join(execFileSync("npm", ["config", "get", "cache"], { encoding: "utf8" }).trim(), "_cacache");
  if (!fs.existsSync(path.join(cache, "index-v5"))) throw new Error(`no npm cache at ${cache}: run npm ci in the repository first`);
  const stamp = `${process.version}/${cacheStamp(cache)}`;
  if ((await imageLabel(NODE_NPM_IMAGE, NPM_CACHE_LABEL)) === stamp) return NODE_NPM_IMAGE;
  await withTempDir(async (root) => {
    addBusybox(root);
    addNode(root);
    fs.cpSync(npmRoot, path.join(root, "usr/local/lib/node_modules/npm"), { recursive: true, verbatimSymlinks: true });
    for (const [name, cli] of [["npm", "npm-cli.js"], ["npx", "npx-cli.js"]]) {
      const wrapper = path.join(root, "usr/local/bin", name);
      fs.writeFileSync(wrapper, `#!/bin/sh\nexec /usr/local/bin/node /usr/local/lib/node_modules/npm/bin/${cli} "$@"\n`, { mode: 0o755 });
    }
    // Package bins start with `#!/usr/bin/env node`.
    fs.mkdirSync(path.join(root, "usr/bin"), { recursive: true });
    fs.symlinkSync("/bin/busybox", path.join(root, "usr/bin/env"));
    fs.cpSync(cache, path.join(root, "npm-cache/_cacache"), { recursive: true });
    await importFolder(root, NODE_NPM_IMAGE, [
      "ENV PATH=/usr/local/bin:/bin:/usr/bin",
      "ENV HOME=/root",
      "ENV npm_config_cache=/npm-cache",
      "ENV npm_config_offline=true",
      "ENV npm_config_update_notifier=false",
      'CMD ["node"]',
      `LABEL ${IMAGE_LABEL}=node-npm`,
      `LABEL ${NPM_CACHE_LABEL}=${stamp}`,
    ]);
  });
  return NODE_NPM_IMAGE;
});

/** Entries and newest change of the cache's index: enough to tell that the cache gained packages. */
function cacheStamp(cache: string): string {
  let entries = 0;
  let newest = 0;
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else {
        entries++;
        newest = Math.max(newest, fs.statSync(full).mtimeMs);
      }
    }
  };
  walk(path.join(cache, "index-v5"));
  return `${entries}-${Math.floor(newest)}`;
}

/** The Node binary running this process at /usr/local/bin/node, with the shared libraries it needs. */
function addNode(root: string): void {
  copyInto(root, process.execPath, "/usr/local/bin/node");
  for (const lib of sharedLibraries(process.execPath)) copyInto(root, lib, lib);
}

/** Paths `ldd` resolves for a binary, including the dynamic loader (listed without "=>"). Pure parse. */
export function parseLdd(output: string): string[] {
  const paths = new Set<string>();
  for (const line of output.split("\n")) {
    const resolved = line.match(/=>\s*(\/\S+)\s*\(0x/);
    const direct = line.match(/^\s*(\/\S+)\s*\(0x/);
    const p = resolved?.[1] ?? direct?.[1];
    if (p) paths.add(p);
  }
  return [...paths];
}

function sharedLibraries(binary: string): string[] {
  return parseLdd(execFileSync("ldd", [binary], { encoding: "utf8" }));
}

/** Lays out /bin/busybox, a link per applet, and the directories programs expect (/tmp world-writable). */
function addBusybox(root: string): void {
  if (!fs.existsSync(BUSYBOX_PATH) || !isStatic(BUSYBOX_PATH)) {
    throw new Error(
      `test images need a statically linked ${BUSYBOX_PATH}: install it with ` +
        "`apt-get install -y busybox-static` (scripts/start-docker.sh does this)",
    );
  }
  copyInto(root, BUSYBOX_PATH, "/bin/busybox");
  const applets = execFileSync(BUSYBOX_PATH, ["--list"], { encoding: "utf8" }).split("\n").filter(Boolean);
  for (const applet of applets) {
    if (applet !== "busybox") fs.symlinkSync("busybox", path.join(root, "bin", applet));
  }
  for (const dir of ["etc", "proc", "sys", "dev", "tmp", "root"]) fs.mkdirSync(path.join(root, dir), { recursive: true });
  fs.chmodSync(path.join(root, "tmp"), 0o1777);
  // Numeric users only would work, but `ps`/`id` print names when these exist.
  fs.writeFileSync(path.join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n");
  fs.writeFileSync(path.join(root, "etc/group"), "root:x:0:\nnogroup:x:65534:\n");
}

function isStatic(binary: string): boolean {
  try {
    const out = execFileSync("ldd", [binary], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return /not a dynamic executable|statically linked/.test(out);
  } catch {
    return true; // ldd exits non-zero with "not a dynamic executable"
  }
}

function copyInto(root: string, from: string, to: string): void {
  const dest = path.join(root, to);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.copyFileSync(from, dest); // follows symlinks: the image gets the real file under the listed name
  fs.chmodSync(dest, fs.statSync(from).mode & 0o7777);
}

/** `tar -C root -c . | docker import --change … - name`, without a shell in between. */
function importFolder(root: string, name: string, changes: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const tar = spawn("tar", ["-C", root, "--owner=0", "--group=0", "-c", "."], { stdio: ["ignore", "pipe", "pipe"] });
    const imp = spawn("docker", ["import", ...changes.flatMap((c) => ["--change", c]), "-", name], {
      stdio: ["pipe", "ignore", "pipe"],
    });
    let stderr = "";
    tar.stderr.on("data", (d) => (stderr += d));
    imp.stderr.on("data", (d) => (stderr += d));
    // When import fails early, tar's writes meet a closed pipe: the import's own message is the one to report.
    imp.stdin.on("error", () => undefined);
    tar.stdout.pipe(imp.stdin);
    tar.on("error", reject);
    imp.on("error", reject);
    imp.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`docker import ${name} failed (exit ${code}): ${stderr.trim()}`)),
    );
  });
}

/** Value of a label on a local image; undefined if the image or label is missing. */
async function imageLabel(image: string, label: string): Promise<string | undefined> {
  try {
    const value = await docker("image", "inspect", "--format", `{{index .Config.Labels "${label}"}}`, image);
    return value === "" || value === "<no value>" ? undefined : value;
  } catch {
    return undefined;
  }
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "metamcp-guard-image-"));
  try {
    await fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export const PSQL_IMAGE = "metamcp-guard-test/psql:local";
/** Records which psql went in (its `--version` line), so an upgraded client rebuilds the image. */
const PSQL_VERSION_LABEL = "metamcp-guard.test-image.psql-version";
/** Where Debian's postgresql-client packages put the real psql (/usr/bin/psql is a Perl wrapper). */
const DEBIAN_POSTGRESQL_DIR = "/usr/lib/postgresql";

/**
 * Name of an image holding Debian's psql client (the newest `/usr/lib/postgresql/<version>/bin/psql`) at
 * /usr/local/bin/psql with the libraries `ldd` lists for it, and busybox for /bin/sh and sleep:
 * "metamcp-guard-test/psql:local". Rebuilt when the client's version changes. Needs `postgresql-client` (or
 * `postgresql`) installed; throws saying so otherwise.
 */
export const psqlImage = oncePerProcess(async () => {
  const psql = debianPsql();
  const version = execFileSync(psql, ["--version"], { encoding: "utf8" }).trim();
  if ((await imageLabel(PSQL_IMAGE, PSQL_VERSION_LABEL)) === version) return PSQL_IMAGE;
  await withTempDir(async (root) => {
    addBusybox(root);
    copyWithLibraries(root, psql, "/usr/local/bin/psql");
    await importFolder(root, PSQL_IMAGE, [
      "ENV PATH=/usr/local/bin:/bin",
      'CMD ["sh"]',
      `LABEL ${IMAGE_LABEL}=psql`,
      `LABEL ${PSQL_VERSION_LABEL}=${JSON.stringify(version)}`,
    ]);
  });
  return PSQL_IMAGE;
});

/** Why postgresServerImage() cannot be built here (no Debian PostgreSQL server installed), or undefined. */
export function postgresServerMissingReason(): string | undefined {
  try {
    newestDebianPostgresql("postgres", "the Postgres test image needs Debian's server", "postgresql");
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

function debianPsql(): string {
  return path.join(newestDebianPostgresql("psql", "the psql test image needs Debian's psql", "postgresql-client"), "bin/psql");
}

/** `/usr/lib/postgresql/<version>` of the newest version that has `bin/<program>`; throws naming the package to install. */
function newestDebianPostgresql(program: string, who: string, debianPackage: string): string {
  const versions = fs.existsSync(DEBIAN_POSTGRESQL_DIR)
    ? fs.readdirSync(DEBIAN_POSTGRESQL_DIR).filter((v) => fs.existsSync(path.join(DEBIAN_POSTGRESQL_DIR, v, "bin", program)))
    : [];
  const newest = versions.sort((a, b) => Number(a) - Number(b)).pop();
  if (!newest) throw new Error(`${who} in ${DEBIAN_POSTGRESQL_DIR}/<version>/bin: apt-get install -y ${debianPackage}`);
  return path.join(DEBIAN_POSTGRESQL_DIR, newest);
}

/** Copies a dynamically linked binary to `to` in the image folder, with every library `ldd` lists at its own path. */
function copyWithLibraries(root: string, binary: string, to: string): void {
  copyInto(root, binary, to);
  for (const lib of sharedLibraries(binary)) copyInto(root, lib, lib);
}

export const POSTGRES_SERVER_IMAGE = "metamcp-guard-test/postgres:local";
/** The imported folder the server image is built FROM. */
const POSTGRES_SERVER_BASE = "metamcp-guard-test/postgres-base:local";
/** Records which server and entrypoint went in, so an upgraded server or an edited entrypoint rebuilds the image. */
const POSTGRES_SERVER_LABEL = "metamcp-guard.test-image.postgres";
/** The entrypoint: initdb on an empty PGDATA with POSTGRES_USER/PASSWORD/DB, then exec postgres as uid 999. */
const POSTGRES_ENTRYPOINT = path.join(__dirname, "postgres-entrypoint.sh");
/** The official image's data directory, where the stack mounts its volume. */
export const POSTGRES_DATA_DIR = "/var/lib/postgresql/data";
/** Server binaries the entrypoint, the stack's health check and the provider's exec use. */
const POSTGRES_PROGRAMS = ["postgres", "initdb", "pg_ctl", "pg_controldata", "psql", "pg_isready"];

/**
 * Name of a PostgreSQL server image built from Debian's packages on this machine (no registry here): the newest
 * `/usr/lib/postgresql/<version>` that has a server, its modules (`lib/`, without the JIT, which would need LLVM),
 * `/usr/share/postgresql/<version>`, the time zones, every library `ldd` lists, busybox, and `setpriv` to drop
 * root as the official image's gosu does. It behaves like the official image where the stack relies on it:
 * POSTGRES_USER/POSTGRES_PASSWORD/POSTGRES_DB applied to an empty /var/lib/postgresql/data only, the local socket
 * trusted (so psql by exec needs no password), a password asked over TCP (scram-sha-256), STOPSIGNAL SIGINT
 * (a fast shutdown), postgres running as uid 999. Arguments after the image go to postgres (`-c port=…`).
 */
export const postgresServerImage = oncePerProcess(async () => {
  const home = newestDebianPostgresql("postgres", "the Postgres test image needs Debian's server", "postgresql");
  const version = execFileSync(path.join(home, "bin/postgres"), ["--version"], { encoding: "utf8" }).trim();
  const stamp = `${version}/${fs.statSync(POSTGRES_ENTRYPOINT).size}-${Math.floor(fs.statSync(POSTGRES_ENTRYPOINT).mtimeMs)}`;
  if ((await imageLabel(POSTGRES_SERVER_IMAGE, POSTGRES_SERVER_LABEL)) === stamp) return POSTGRES_SERVER_IMAGE;
  const major = path.basename(home);
  await withTempDir(async (root) => {
    addBusybox(root);
    for (const program of POSTGRES_PROGRAMS) copyWithLibraries(root, path.join(home, "bin", program), path.join(home, "bin", program));
    for (const module of fs.readdirSync(path.join(home, "lib")).filter((f) => f.endsWith(".so") && !f.startsWith("llvmjit"))) {
      copyWithLibraries(root, path.join(home, "lib", module), path.join(home, "lib", module));
    }
    fs.cpSync(`/usr/share/postgresql/${major}`, path.join(root, `usr/share/postgresql/${major}`), { recursive: true });
    fs.cpSync("/usr/share/zoneinfo", path.join(root, "usr/share/zoneinfo"), { recursive: true });
    copyWithLibraries(root, "/usr/bin/setpriv", "/usr/bin/setpriv");
    copyInto(root, POSTGRES_ENTRYPOINT, "/usr/local/bin/docker-entrypoint.sh");
    fs.appendFileSync(path.join(root, "etc/passwd"), "postgres:x:999:999::/var/lib/postgresql:/bin/sh\n");
    fs.appendFileSync(path.join(root, "etc/group"), "postgres:x:999:\n");
    fs.mkdirSync(path.join(root, POSTGRES_DATA_DIR), { recursive: true });
    await importFolder(root, POSTGRES_SERVER_BASE, [`LABEL ${IMAGE_LABEL}=postgres-base`]);
  });
  // `docker import` cannot set a stop signal; a build FROM the imported folder can, with no context and no RUN.
  await buildFromStdin(POSTGRES_SERVER_IMAGE, [
    `FROM ${POSTGRES_SERVER_BASE}`,
    `ENV PATH=${home}/bin:/usr/local/bin:/usr/bin:/bin PGDATA=${POSTGRES_DATA_DIR} TZ=UTC`,
    "STOPSIGNAL SIGINT",
    'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]',
    `LABEL ${IMAGE_LABEL}=postgres`,
    `LABEL ${POSTGRES_SERVER_LABEL}=${JSON.stringify(stamp)}`,
  ]);
  return POSTGRES_SERVER_IMAGE;
});

/** `docker build -t name -`: a Dockerfile on stdin and no build context (so nothing to send, no network). */
function buildFromStdin(name: string, dockerfile: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const build = spawn("docker", ["build", "--quiet", "--force-rm", "-t", name, "-"], { stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    build.stderr.on("data", (d) => (stderr += d));
    build.on("error", reject);
    build.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`docker build ${name} failed (exit ${code}): ${stderr.trim()}`))));
    build.stdin.end(`${dockerfile.join("\n")}\n`);
  });
}
