/**
 * What the guard may write about a request. Logs and metrics never hold a credential: no API key, no
 * Authorization or Cookie value, no query value (MetaMCP accepts `?api_key=`, and the inspector's routes
 * carry server settings in the query), and session ids only shortened (an id plus a key is a session).
 */

const REDACTED = "<redacted>";
const SHORT_ID_LENGTH = 8;

/** The path as is and the query's keys, every query value replaced: /x/mcp?api_key=<redacted>. */
export function redactTarget(target: string): string {
  const query = target.indexOf("?");
  if (query === -1) return target;
  const path = target.slice(0, query);
  const rest = target.slice(query + 1);
  if (rest === "") return `${path}?`;
  const fragment = rest.indexOf("#");
  const search = fragment === -1 ? rest : rest.slice(0, fragment);
  const keys = search.split("&").map((pair) => {
    const equals = pair.indexOf("=");
    return equals === -1 ? pair : `${pair.slice(0, equals)}=${REDACTED}`;
  });
  return `${path}?${keys.join("&")}`;
}

/** The first characters of a session id: enough to follow one session through the log, not to use it. */
export function shortId(id: string): string {
  return id.length <= SHORT_ID_LENGTH ? id : `${id.slice(0, SHORT_ID_LENGTH)}…`;
}
