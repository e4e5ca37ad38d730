import { createRequire } from 'node:module';
import type { Liquid, Template } from 'liquidjs';

// The template engine of the outgoing webhook channel: Liquid (liquidjs), which has no way to
// run code — only tags and filters — and is configured here so that a template cannot reach
// anything but the values it is given: no file includes, own properties only, bounded parse
// and render. It is loaded (synchronously, so that a configuration can be checked as it is
// parsed) only when a template is first compiled: a service without a webhook channel never
// holds it.

/** A template refused as it was parsed: the engine's message, with line and column. */
export class TemplateError extends Error {
  override name = 'TemplateError';
}

let engine: Liquid | undefined;

function liquid(): Liquid {
  if (engine) return engine;
  const { Liquid: LiquidEngine } = createRequire(import.meta.url)('liquidjs') as typeof import('liquidjs');
  engine = new LiquidEngine({
    // Templates come from the configuration only: an empty in-memory table of files, so
    // {% include %}, {% render %} and {% layout %} find nothing and the disk is never read.
    templates: {},
    strictFilters: true,
    strictVariables: false,
    ownPropertyOnly: true,
    // Denial of service from a configuration or a label value: bounded parse, render and output.
    parseLimit: 100_000,
    renderLimit: 1_000,
    memoryLimit: 10_000_000,
  });
  return engine;
}

/** A parsed template, ready to render many times. */
export interface CompiledTemplate {
  readonly source: string;
  /** The global variables it reads, as paths (`["alerts", 0, "labels", "instance"]`). */
  readonly variables: (string | number)[][];
  render(context: object): string;
}

/** Parses a template; a syntax error, an unknown tag or an unknown filter is a TemplateError. */
export function compileTemplate(source: string): CompiledTemplate {
  const l = liquid();
  let parsed: Template[];
  let segments: (string | number)[][];
  try {
    parsed = l.parse(source);
    // Reading the variables follows {% include %} and the like, which find no file.
    segments = l.globalVariableSegmentsSync(parsed) as unknown as (string | number)[][];
  } catch (err) {
    const message = (err as Error).message;
    throw new TemplateError(
      /Failed to lookup/.test(message)
        ? `templates cannot include files ({% include %}, {% render %}, {% layout %}): ${message}`
        : message,
    );
  }
  return {
    source,
    variables: segments,
    render: (context) => l.renderSync(parsed, context) as string,
  };
}
