/** json-file log rotation for every container (`metamcp-guard:logging`). */
import { z } from "zod";
import { strictObject, wholeNumber } from "./fields";

export const loggingSchema = strictObject({
  /** Largest log file before Docker rotates it (Docker's units: 10m, 1g). */
  maxSize: z.string().regex(/^\d+[kmg]$/, { message: "is not a log size; write a whole number with k, m or g, such as 10m" }).default("10m"),
  /** Rotated files kept per container. */
  maxFile: wholeNumber(1, 100).default(3),
});

export type LoggingConfig = z.output<typeof loggingSchema>;
