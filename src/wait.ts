/**
 * Waits for `p`, but no longer than `ms`: a slow engine, server or delivery must not hold the
 * caller past its own deadline. A rejection of `p` within the time is passed on.
 */
export async function settleWithin(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([p, new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, ms))))]);
  } finally {
    clearTimeout(timer);
  }
}
