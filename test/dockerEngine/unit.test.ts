// Pure parts of the exec transport: splitting the engine's multiplexed output stream.
import { describe, expect, it } from "vitest";
import { demuxDockerStream } from "../../infra/dockerEngine/exec";

/** One frame of the engine's multiplexed stream: [stream, 0, 0, 0, size (big-endian)] + payload. */
function frame(stream: number, payload: string): Buffer {
  const body = Buffer.from(payload);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

describe("demuxDockerStream", () => {
  it.each([
    ["nothing", Buffer.alloc(0), "", ""],
    ["stdout only", frame(1, "hello\n"), "hello\n", ""],
    ["interleaved, in order per stream", Buffer.concat([frame(1, "a"), frame(2, "x"), frame(1, "b"), frame(2, "y")]), "ab", "xy"],
    ["an empty frame", Buffer.concat([frame(1, ""), frame(2, "e")]), "", "e"],
    ["stdin frames (0) are dropped", Buffer.concat([frame(0, "in"), frame(1, "out")]), "out", ""],
    ["a truncated last frame keeps what arrived", Buffer.concat([frame(1, "ok"), frame(2, "partial").subarray(0, 8 + 4)]), "ok", "part"],
    ["a raw stream (the engine's own error text) is stdout", Buffer.from('OCI runtime exec failed: exec: "psql": not found\r\n'), 'OCI runtime exec failed: exec: "psql": not found\r\n', ""],
  ])("%s", (_what, bytes, stdout, stderr) => {
    const out = demuxDockerStream(bytes);
    expect(out.stdout.toString()).toBe(stdout);
    expect(out.stderr.toString()).toBe(stderr);
  });

  it("payloads larger than one read and with binary bytes come through whole", () => {
    const big = "z".repeat(100_000);
    const out = demuxDockerStream(Buffer.concat([frame(1, big), frame(1, "\u0000\u0001")]));
    expect(out.stdout.length).toBe(100_002);
  });
});
