/**
 * The request target the guard forwards, in origin form ("/path?query"), or undefined for one it refuses.
 *
 * Node's HTTP parser accepts targets that are not URLs at all ("http://[", "http://a:99999/", "/\[").
 * http-proxy-3 (1.23) builds the upstream path with `new URL(target, base)`, which throws on them, and it
 * throws inside the server's request listener: one such request from anyone who can reach the port would
 * end the guard, cut every stream and empty its session table. So the guard reads the target itself first,
 * the same way, and answers 400 to what does not parse.
 *
 * A well-formed absolute form ("http://host/path", which RFC 9112 §3.2.2 has servers accept) becomes its
 * origin form: MetaMCP routes by path, and the session the guard tracks is known by the path MetaMCP sees.
 * The host part is dropped, as the Host header is what names the site. Other forms (authority form
 * "host:443", asterisk form "*") mean nothing to MetaMCP and are refused.
 */

/** A base for resolving origin forms; it never leaves this function. */
const BASE = "http://guard.invalid";
const ABSOLUTE_FORM = /^https?:\/\//i;

export function originForm(target: string): string | undefined {
  let url: URL;
  try {
    if (ABSOLUTE_FORM.test(target)) url = new URL(target);
    // "//x" is a path to HTTP but a host to URL: resolved under BASE's host it stays a path, as http-proxy-3 reads it.
    else if (target.startsWith("/")) url = new URL(target.startsWith("//") ? `${BASE}${target}` : target, BASE);
    else return undefined;
  } catch {
    return undefined;
  }
  return `${url.pathname}${url.search}`;
}
