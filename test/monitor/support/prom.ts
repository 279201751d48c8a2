/**
 * A strict reader of the Prometheus text format (0.0.4), enough to prove /metrics parses: every line
 * is a HELP, a TYPE or a sample; names and labels are well formed; every sample's family has a TYPE
 * declared before it; values are numbers. Throws on the first bad line.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  types: Map<string, string>;
  samples: Sample[];
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)$`);
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/;

export function parseExposition(text: string): Exposition {
  if (!text.endsWith("\n")) throw new Error("exposition must end with a newline");
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const [i, line] of text.slice(0, -1).split("\n").entries()) {
    const where = `line ${i + 1} (${JSON.stringify(line)})`;
    const type = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
    if (type) {
      if (types.has(type[1])) throw new Error(`${where}: TYPE declared twice`);
      types.set(type[1], type[2]);
      continue;
    }
    if (new RegExp(`^# HELP ${NAME} .+$`).test(line)) continue;
    const sample = SAMPLE.exec(line);
    if (!sample) throw new Error(`${where}: not a HELP, TYPE or sample line`);
    const [, name, labelText = "", valueText] = sample;
    if (!types.has(name)) throw new Error(`${where}: sample before its TYPE`);
    const value = Number(valueText);
    if (Number.isNaN(value) && valueText !== "NaN") throw new Error(`${where}: value is not a number`);
    const labels: Record<string, string> = {};
    for (let rest = labelText; rest !== ""; ) {
      const label = LABEL.exec(rest);
      if (!label) throw new Error(`${where}: bad labels`);
      labels[label[1]] = label[2].replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
      rest = rest.slice(label[0].length);
    }
    samples.push({ name, labels, value });
  }
  return { types, samples };
}

/** The value of one sample, matched by name and (a subset of) labels; throws when absent. */
export function sampleValue(exposition: Exposition, name: string, labels: Record<string, string> = {}): number {
  const found = exposition.samples.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (!found) throw new Error(`no sample ${name}${JSON.stringify(labels)}`);
  return found.value;
}
