import { createRequire } from 'node:module';

// The YAML parser is loaded on the first file to parse: a service started without a
// configuration file never needs it, and it costs several megabytes of resident memory.
type YamlModule = typeof import('yaml');
let yaml: YamlModule | undefined;
const load = (): YamlModule => (yaml ??= createRequire(import.meta.url)('yaml') as YamlModule);

export interface YamlPosition {
  line: number;
  col: number;
}

/** Parses one YAML document; a syntax error carries the position of its first problem. */
export function parseYaml(text: string, opts: { uniqueKeys?: boolean } = {}): unknown {
  return load().parse(text, { prettyErrors: true, uniqueKeys: opts.uniqueKeys ?? true });
}

/** The line and column of a YAML syntax error, when `err` is one. */
export function yamlErrorPosition(err: unknown): YamlPosition | undefined {
  if (!yaml || !(err instanceof yaml.YAMLParseError)) return undefined;
  return err.linePos?.[0];
}
