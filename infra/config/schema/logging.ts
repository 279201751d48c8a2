/** json-file log rotation for every container (`metamcp-guard:logging`). */
import { z } from "zod";
import { size, strictObject, wholeNumber } from "./fields";
import { parseSize } from "../units";

export const loggingSchema = strictObject({
  /** Largest log file before Docker rotates it, bytes (written like every size: 10m, 1g, 10MB). */
  maxSize: size(parseSize("1k")!, parseSize("100g")!).prefault("10m"),
  /** Rotated files kept per container. */
  maxFile: wholeNumber(1, 100).default(3),
});

export type LoggingConfig = z.output<typeof loggingSchema>;
