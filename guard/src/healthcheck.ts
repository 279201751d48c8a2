/**
 * `docker run --health-cmd`/HEALTHCHECK probe: exit 0 when the guard's /healthz answers 200. Reads
 * the same variables as the guard, so it follows a changed address or port. A wildcard listen
 * address is probed on loopback.
 */
import * as http from "node:http";
import { DEFAULTS, ENV } from "./contract";

const configured = process.env[ENV.metricsHost] || DEFAULTS.metricsHost;
const host = configured === "0.0.0.0" ? "127.0.0.1" : configured === "::" ? "::1" : configured;
const port = Number(process.env[ENV.metricsPort] || DEFAULTS.metricsPort);

http
  .get({ host, port, path: "/healthz", timeout: 3000 }, (res) => process.exit(res.statusCode === 200 ? 0 : 1))
  .on("timeout", () => process.exit(1))
  .on("error", () => process.exit(1));
