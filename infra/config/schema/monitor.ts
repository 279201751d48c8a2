/**
 * The process-monitor sidecar (`metamcp-guard:monitor`): the container's own limits here;
 * its reap settings are passed to monitor/ as environment variables.
 */
import { z } from "zod";
import { flag, imageRef, restartPolicy, strictObject } from "./fields";
import { limitsWithDefaults } from "./limits";

export const monitorSchema = strictObject({
  enabled: flag.default(true),
  /** A prebuilt monitor image; unset, the stack builds monitor/Dockerfile on the Docker host. */
  image: imageRef.optional(),
  limits: limitsWithDefaults({ memory: "128m", cpus: 0.25, pids: 16 }),
  /** `always`: after MetaMCP is restarted the monitor must come back into its new PID namespace. */
  restart: restartPolicy.default("always"),
});

export type MonitorConfig = z.output<typeof monitorSchema>;
