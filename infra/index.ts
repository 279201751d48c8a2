/**
 * The Pulumi program: validate this stack's config before declaring anything, ask the Docker host
 * what only it can answer, then build the stack. Pulumi runs this file with ts-node after changing
 * directory to infra/, calls the function it exports and shows what it returns as stack outputs.
 */
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, keyProblemLine, loadStackConfig } from "./config";
import { dockerHostKey } from "./config/schema/host";
import { checkSshClient, cpuProblems, dockerHostCpus } from "./hostChecks";
import { buildStack } from "./stack";

export = async () => {
  const { config, secrets } = loadStackConfig();
  // Only under a real engine: tests run this file under mocks, with hosts that must not be dialled.
  if (pulumi.runtime.hasEngine()) {
    const hostKey = dockerHostKey(config);
    const sshProblem = hostKey ? await checkSshClient() : undefined;
    if (sshProblem) throw new ConfigError(config.stack, [keyProblemLine(sshProblem)]);
    const hostCpus = await dockerHostCpus(config.dockerHost, hostKey);
    if (hostCpus === undefined) {
      void pulumi.log.warn(`could not ask the Docker host ${config.dockerHost} how many CPUs it has; CPU caps are checked when containers are created`);
    } else {
      const problems = cpuProblems(config, hostCpus);
      if (problems.length > 0) throw new ConfigError(config.stack, problems.map(keyProblemLine));
    }
  }
  const stack = buildStack(config, secrets);
  return {
    url: stack.url,
    containers: stack.containers,
    dataVolume: stack.dataVolume,
    monitorMetricsUrl: stack.monitorMetricsUrl,
    guardMetricsUrl: stack.guardMetricsUrl,
    limits: stack.limits,
  };
};
