/**
 * Declares a HostSlices component under Pulumi mocks and records its Commands with their
 * inputs and options, the way the engine would receive them.
 */
import * as pulumi from "@pulumi/pulumi";
import { HostSlices } from "../../infra/host/component";
import type { SliceSettings } from "../../infra/host/plan";
import { waitForRegistrations } from "../support/mocks";

export interface RecordedCommand {
  name: string;
  urn: string;
  inputs: Record<string, any>;
  options: { deleteBeforeReplace: boolean; dependencies: string[]; parent: string };
}

export async function declareHostSlices(settings: SliceSettings, privateKey: string | undefined) {
  const commands: RecordedCommand[] = [];
  const options = new Map<string, RecordedCommand["options"]>();
  await pulumi.runtime.setMocks(
    {
      newResource: ({ type, name, inputs }) => {
        if (type === "command:remote:Command") {
          commands.push({ name, urn: `urn:pulumi:${settings.stack}::metamcp-guard::metamcp-guard:host:HostSlices$command:remote:Command::${name}`, inputs, options: options.get(name)! });
        }
        return { id: `${name}-id`, state: inputs };
      },
      call: ({ inputs }) => inputs,
    },
    "metamcp-guard",
    settings.stack,
    false,
  );
  const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource(req: any, cb: unknown): unknown };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, cb: unknown) => {
    options.set(req.getName(), {
      deleteBeforeReplace: req.getDeletebeforereplace(),
      dependencies: req.getDependenciesList(),
      parent: req.getParent(),
    });
    return register(req, cb);
  };
  const host = new HostSlices("host", { settings, privateKey: privateKey === undefined ? undefined : pulumi.secret(privateKey) });
  await waitForRegistrations();
  return { commands, host };
}
