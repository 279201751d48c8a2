export { loadStackConfig, type SecretOutputs } from "./load";
export { ConfigError, keyProblemLine, parseStackConfig, PROJECT, type ParseOptions, type RawStackConfig, type StackConfig } from "./parse";
export type { ContainerLimits } from "./schema/limits";
export { SECRET_KEYS, type SecretKey, type StackSecrets } from "./secrets";
