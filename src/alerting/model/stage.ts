/**
 * One step of the receiver's pipeline (see docs/ARCHITECTURE.md). Each stage is a plain
 * function of its input, so it can be tested without express and without a store; the
 * receiver composes them in one place.
 */
export interface Stage<In, Out> {
  readonly name: string;
  run(input: In): Out | Promise<Out>;
}

/** Two stages run one after the other. */
export function pipe<A, B, C>(first: Stage<A, B>, second: Stage<B, C>): Stage<A, C> {
  return {
    name: `${first.name} → ${second.name}`,
    run: async (input) => second.run(await first.run(input)),
  };
}
