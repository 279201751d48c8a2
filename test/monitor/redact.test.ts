/**
 * Secrets out of command lines, as a table of real-looking ones: what MCP servers are started with
 * (credentials in URLs, flags and environment words) next to what must stay readable (launcher,
 * package, plain flags and paths).
 */
import { describe, expect, it } from "vitest";
import { isSecretName, redactCommandLine } from "../../monitor/src/redact";

describe("redactCommandLine", () => {
  it.each([
    [
      "a database URL's password and an API key flag",
      "npm exec @modelcontextprotocol/server-postgres postgresql://app:S3cretPassw0rd@db:5432/app --api-key=sk-live-4eC39HqLyjWDarjtT1zdp7dc",
      "npm exec @modelcontextprotocol/server-postgres postgresql://***@db:5432/app --api-key=***",
    ],
    [
      "a flag's value as the next word",
      "npx -y mcp-remote https://mcp.example.com/sse --auth-token eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8opsbCGfG_HACGpVUMN_a9IV7pAx_Zmeo",
      "npx -y mcp-remote https://mcp.example.com/sse --auth-token ***",
    ],
    [
      "environment words before the command (sh -c, env)",
      "sh -c GITHUB_PERSONAL_ACCESS_TOKEN=ghp_16C7e42F292c6912E7710c838347Ae178B4a PGPASSWORD=hunter2hunter2 npx -y @modelcontextprotocol/server-github",
      "sh -c GITHUB_PERSONAL_ACCESS_TOKEN=*** PGPASSWORD=*** npx -y @modelcontextprotocol/server-github",
    ],
    [
      "query parameters with secret names, others kept",
      "uvx mcp-proxy https://api.example.com/mcp?region=eu&access_token=abc123def456&client_secret=s3cr3t",
      "uvx mcp-proxy https://api.example.com/mcp?region=eu&access_token=***&client_secret=***",
    ],
    [
      "user and password in a URL without a port, and a git URL's user",
      "uvx --from git+https://deploy:glpat-xXxXxXxXxXxXxXxXxXxX@gitlab.example.com/mcp/server.git mcp-server-x",
      "uvx --from git+https://***@gitlab.example.com/mcp/server.git mcp-server-x",
    ],
    [
      "the --password, --secret, --key flags in both forms",
      "node /srv/mcp/dist/server.js --password hunter2 --client-secret=abc --key /run/keys/tls.pem --token=t0k3n",
      "node /srv/mcp/dist/server.js --password *** --client-secret=*** --key *** --token=***",
    ],
    [
      "an Authorization header split into words",
      "npx -y mcp-remote https://h.example/mcp --header Authorization: Bearer abcdefghij0123456789",
      "npx -y mcp-remote https://h.example/mcp --header Authorization: *** ***",
    ],
    [
      "long hex and base64 runs with no name to go by",
      "python -m mcp_server_x 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      "python -m mcp_server_x *** ***",
    ],
    [
      "what identifies a server stays: npx cache paths, package names, plain flags",
      "node /home/nextjs/.npm/_npx/5b2dd3f8a1c2e4b6/node_modules/.bin/mcp-server-everything --port 3001 --verbose",
      "node /home/nextjs/.npm/_npx/5b2dd3f8a1c2e4b6/node_modules/.bin/mcp-server-everything --port 3001 --verbose",
    ],
    [
      "MetaMCP's own processes",
      "npm exec @modelcontextprotocol/server-filesystem /tmp /home/nextjs/Documents",
      "npm exec @modelcontextprotocol/server-filesystem /tmp /home/nextjs/Documents",
    ],
    [
      "a boolean flag with a secret-looking name does not hide the package after it",
      "npx --no-auth @modelcontextprotocol/server-memory",
      "npx --no-auth @modelcontextprotocol/server-memory",
    ],
    [
      "a flag followed by another flag: nothing to hide",
      "mcp-server --api-key --stdio",
      "mcp-server --api-key --stdio",
    ],
  ])("%s", (_, cmdline, shown) => {
    expect(redactCommandLine(cmdline)).toBe(shown);
  });

  it("drops the last word of a command line the reader cut short, so half a secret cannot show", () => {
    expect(redactCommandLine("npx -y server-x --db postgres://u:p@h/d sk-live-4eC3", true)).toBe("npx -y server-x --db postgres://***@h/d …");
  });

  it("is idempotent, so redacting twice (record builder, then writeRecord) changes nothing more", () => {
    const once = redactCommandLine("npm exec x postgresql://a:b@c/d --api-key=sk-live-4eC39HqLyjWDarjtT1zdp7dc TOKEN=x");
    expect(redactCommandLine(once)).toBe(once);
    const detail = `leader's parent is 12 (${once}), not the server; also --auth-token ***), and more`;
    expect(redactCommandLine(detail)).toBe(detail);
  });

  it.each([
    ["URLs without user-info after a long run", `${"a".repeat(30_000)}@${"x://".repeat(8_000)}`],
    ["secret assignments in one word", "API_KEY=x&".repeat(6_500)],
    ["secret flags", "--key v ".repeat(8_000)],
    ["key-like runs", "ab12CD34/".repeat(7_000)],
  ])("costs linear time on a hostile 64 KiB line: %s", (_, hostile) => {
    // The best of five runs, so a busy machine does not decide; a quadratic loop takes 60 ms and more here.
    const runs = [0, 1, 2, 3, 4].map(() => {
      const started = performance.now();
      redactCommandLine(hostile);
      return performance.now() - started;
    });
    expect(Math.min(...runs)).toBeLessThan(25);
  });
});

describe("isSecretName", () => {
  it.each(["API_KEY", "--api-key", "GITHUB_TOKEN", "client_secret", "PGPASSWORD", "--passwd", "AWS_CREDENTIALS", "Authorization:"])("%s is", (name) =>
    expect(isSecretName(name)).toBe(true),
  );
  it.each(["--port", "PATH", "HOME", "--verbose", "NODE_OPTIONS", "--db"])("%s is not", (name) => expect(isSecretName(name)).toBe(false));
});
