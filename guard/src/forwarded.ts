/**
 * The X-Forwarded-* headers the guard sends upstream.
 *
 * MetaMCP builds absolute URLs from `x-forwarded-proto` and `x-forwarded-host` when APP_URL is unset
 * (OAuth metadata, the token-introspection URL it then fetches), reading each header raw, not as a
 * list. So by default the guard *sets* them from what it sees itself, and a client cannot choose the
 * host MetaMCP sends tokens to. Behind a TLS proxy the operator trusts, `trustForwarded` keeps that
 * proxy's proto and host and appends to its X-Forwarded-For. Host itself is never rewritten: MetaMCP's
 * Next.js front copies it into x-forwarded-host for the backend.
 */

export interface ForwardedInput {
  /** The TCP peer's address, as Node reports it. */
  peer: string | undefined;
  host: string | undefined;
  forwardedFor: string | undefined;
  forwardedProto: string | undefined;
  forwardedHost: string | undefined;
}

export interface ForwardedHeaders {
  "x-forwarded-for": string;
  "x-forwarded-proto": string;
  "x-forwarded-host"?: string;
}

/** "::ffff:10.0.0.5" → "10.0.0.5": an IPv4 client on a dual-stack socket, written as people read it. */
export function plainAddress(address: string | undefined): string {
  if (address === undefined || address === "") return "unknown";
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}

export function forwardedHeaders(input: ForwardedInput, trustForwarded: boolean): ForwardedHeaders {
  const peer = plainAddress(input.peer);
  const headers: ForwardedHeaders = {
    "x-forwarded-for": trustForwarded && input.forwardedFor ? `${input.forwardedFor}, ${peer}` : peer,
    // The guard itself speaks plain HTTP.
    "x-forwarded-proto": (trustForwarded && input.forwardedProto) || "http",
  };
  const host = (trustForwarded && input.forwardedHost) || input.host;
  if (host) headers["x-forwarded-host"] = host;
  return headers;
}
