/**
 * Which stack-file keys anything reads. A key in another namespace (`metamcp-gaurd:app`, a bare
 * `monitor`) would be ignored without a word and its setting silently fall back to a default, so
 * keys outside these namespaces are refused.
 */
import { PROJECT } from "./parse";

/** This project's and its providers' namespaces, and Pulumi's own (`pulumi:tags`, …). */
export const KNOWN_NAMESPACES = [PROJECT, "docker", "command", "pulumi"] as const;

/** The keys, as written, that are in none of the known namespaces (pure). */
export function foreignConfigKeys(keys: Iterable<string>): string[] {
  return [...keys].filter((key) => {
    const colon = key.indexOf(":");
    return colon < 0 || !(KNOWN_NAMESPACES as readonly string[]).includes(key.slice(0, colon));
  });
}
