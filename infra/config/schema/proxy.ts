/** Optional attachment to a network the operator already runs, e.g. a reverse proxy's (`metamcp-guard:proxy`). */
import { z } from "zod";
import { dockerName, labels, strictObject } from "./fields";

export const proxySchema = strictObject({
  /** An existing Docker network; the stack joins it but never creates or deletes it. */
  network: dockerName,
  /** Labels for MetaMCP's container, e.g. Traefik routers. */
  labels: labels.default({}),
});

export type ProxyConfig = z.output<typeof proxySchema>;
