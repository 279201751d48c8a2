/**
 * Secrets out of command lines before they reach the audit log or a metric. MCP servers are often
 * given their credentials as arguments (`… server-postgres postgresql://app:pw@db/app`,
 * `--api-key=sk-…`, `GITHUB_TOKEN=… npx …`), and `docker logs` is read by more people than the
 * stack's secrets are. What an operator needs to recognise a server (launcher, package name, plain
 * flags and paths) is kept.
 *
 * Hidden, each replaced by `***`:
 * - the user-info of a URL (`scheme://user:password@host` → `scheme://***@host`);
 * - the value of a flag or NAME=value word whose name holds key, token, secret, passw, credential
 *   or auth (`--api-key=x`, `--api-key x`, `API_KEY=x`, `?access_token=x&…`), and the word after
 *   `Bearer`/`Basic`;
 * - long runs that look like keys: 32 or more hex digits, or 24 or more base64 characters mixing
 *   upper case, lower case and digits.
 * A command line the reader cut short loses its last (partial) word, so half a secret cannot show.
 * A value that is `***` already is left as it is, so redacting a text that quotes a redacted
 * command line (an audit detail) changes nothing.
 *
 * Plain loops over the words, no regular expressions: a hostile command line costs linear time.
 * The input is at most a few KiB (the reader keeps COMMAND_LINE_LIMIT bytes).
 */

const MASK = "***";
const SECRET_NAME_PARTS = ["key", "token", "secret", "passw", "credential", "auth"];
const SCHEME_WORDS = new Set(["bearer", "basic"]);
/** What ends a value inside a word (query strings), and what starts a name. */
const VALUE_END = new Set(["&", ";", ","]);
const NAME_START = new Set(["?", "&", ";", ","]);

/** The command line with its secrets replaced by `***`; `truncated` drops the last word. */
export function redactCommandLine(cmdline: string, truncated = false): string {
  if (!truncated && !mayHoldSecret(cmdline)) return cmdline; // most command lines: no copy made
  const words = cmdline.split(" ");
  if (truncated) words[words.length - 1] = "…";
  let hideNext = false;
  for (let i = 0; i < words.length; i++) {
    const original = words[i];
    if (original === "") continue;
    if (hideNext && !original.startsWith("-") && !original.startsWith(MASK)) {
      words[i] = MASK;
      hideNext = SCHEME_WORDS.has(original.toLowerCase());
      continue;
    }
    hideNext = takesSecretValue(original);
    words[i] = redactLongRuns(redactAssignments(redactUserInfo(original)));
  }
  return words.join(" ");
}

/** Any of the words that make a name secret, or a scheme word; literals only, so linear in the line. */
const SECRET_WORD = /key|token|secret|passw|credential|auth|bearer|basic/i;

/**
 * False only when no rule could apply: no `=` (assignments), no `://` (URLs), no secret word (flags,
 * names, Bearer), no key-like run. The same one pass as the long-run rule, without building anything.
 */
function mayHoldSecret(line: string): boolean {
  if (line.includes("=") || line.includes("://") || SECRET_WORD.test(line)) return true;
  let start = -1;
  let upper = false;
  let lower = false;
  let digit = false;
  let hexRun = 0;
  for (let i = 0; i <= line.length; i++) {
    const code = i < line.length ? line.charCodeAt(i) : 32;
    if (!isBase64(code)) {
      if (start >= 0 && i - start >= 24 && upper && lower && digit && line[start] !== "/") return true;
      start = -1;
      upper = lower = digit = false;
      hexRun = 0;
      continue;
    }
    if (start < 0) start = i;
    if (code >= 65 && code <= 90) upper = true;
    else if (code >= 97 && code <= 122) lower = true;
    else if (code >= 48 && code <= 57) digit = true;
    hexRun = isHex(code) ? hexRun + 1 : 0;
    if (hexRun >= 32) return true;
  }
  return false;
}

/** True for a name that says it holds a secret: API_KEY, --auth-token, client_secret, PGPASSWORD. */
export function isSecretName(name: string): boolean {
  const lower = name.toLowerCase();
  return SECRET_NAME_PARTS.some((part) => lower.includes(part));
}

/** A word whose value is the next word: `--api-key`, `--password`, `Authorization:`, `Bearer`. */
function takesSecretValue(word: string): boolean {
  if (SCHEME_WORDS.has(word.toLowerCase())) return true;
  if (word.includes("=") || word.startsWith("--no-")) return false;
  if (word.startsWith("-")) return isSecretName(word);
  return word.endsWith(":") && isSecretName(word);
}

/** `scheme://user:password@host/path` → `scheme://***@host/path`, for every URL in the word. */
function redactUserInfo(word: string): string {
  let from = 0;
  for (;;) {
    const scheme = word.indexOf("://", from);
    if (scheme < 0) return word;
    const start = scheme + 3;
    let end = start;
    let at = -1;
    for (; end < word.length && word[end] !== "/" && word[end] !== "?" && word[end] !== "#"; end++) if (word[end] === "@") at = end;
    if (at >= 0) {
      word = `${word.slice(0, start)}${MASK}${word.slice(at)}`;
      from = start + MASK.length;
    } else {
      from = start;
    }
  }
}

/** Every `name=value` in the word (a flag, an environment word, query parameters) with a secret name loses its value. */
function redactAssignments(word: string): string {
  let out = "";
  let copied = 0;
  let nameStart = 0;
  for (let i = 0; i < word.length; i++) {
    const c = word[i];
    if (NAME_START.has(c)) {
      nameStart = i + 1;
      continue;
    }
    if (c !== "=") continue;
    let valueEnd = i + 1;
    while (valueEnd < word.length && !VALUE_END.has(word[valueEnd])) valueEnd++;
    if (valueEnd > i + 1 && !word.startsWith(MASK, i + 1) && isSecretName(word.slice(nameStart, i))) {
      out += `${word.slice(copied, i + 1)}${MASK}`;
      copied = valueEnd;
    }
    // The value ends at a delimiter (or the word's end); the loop's next step reads it as a name start.
    i = valueEnd - 1;
    nameStart = valueEnd;
  }
  return copied === 0 ? word : out + word.slice(copied);
}

function isHex(code: number): boolean {
  return (code >= 48 && code <= 57) || (code >= 97 && code <= 102) || (code >= 65 && code <= 70);
}

function isBase64(code: number): boolean {
  return (
    (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) ||
    code === 43 || code === 47 || code === 61 || code === 95 || code === 45 // + / = _ -
  );
}

/** Runs of 32+ hex digits, and 24+ base64 characters mixing cases and digits (not starting with `/`: a path). */
function redactLongRuns(word: string): string {
  if (word.length < 24) return word;
  let out = "";
  let copied = 0;
  let i = 0;
  while (i < word.length) {
    if (!isBase64(word.charCodeAt(i))) {
      i++;
      continue;
    }
    const start = i;
    let upper = false;
    let lower = false;
    let digit = false;
    let hexRun = 0;
    let longestHexRun = 0;
    for (; i < word.length && isBase64(word.charCodeAt(i)); i++) {
      const code = word.charCodeAt(i);
      if (code >= 65 && code <= 90) upper = true;
      else if (code >= 97 && code <= 122) lower = true;
      else if (code >= 48 && code <= 57) digit = true;
      hexRun = isHex(code) ? hexRun + 1 : 0;
      if (hexRun > longestHexRun) longestHexRun = hexRun;
    }
    const mixed = i - start >= 24 && upper && lower && digit && word[start] !== "/";
    if (mixed || longestHexRun >= 32) {
      out += word.slice(copied, start) + MASK;
      copied = i;
    }
  }
  return copied === 0 ? word : out + word.slice(copied);
}
