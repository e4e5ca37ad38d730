/**
 * A binary min-heap. The pending index (pending.ts) keeps its queues in these and removes
 * items lazily: an item that no longer holds is skipped when it reaches the top, and the heap
 * is rebuilt from its live items once stale ones outnumber them.
 */
export class MinHeap<T> {
  private items: T[] = [];

  constructor(private readonly before: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  push(item: T): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(a[i] as T, a[parent] as T)) break;
      [a[i], a[parent]] = [a[parent] as T, a[i] as T];
      i = parent;
    }
  }

  peek(): T | undefined {
    return this.items[0];
  }

  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length && last !== undefined) {
      a[0] = last;
      this.down(0);
    }
    return top;
  }

  /** The first item that still holds, dropping stale ones on the way. */
  peekLive(live: (item: T) => boolean): T | undefined {
    for (;;) {
      const top = this.items[0];
      if (top === undefined || live(top)) return top;
      this.pop();
    }
  }

  /** Keeps only the items that still hold (when stale ones have piled up). */
  compact(live: (item: T) => boolean): void {
    this.items = this.items.filter(live);
    for (let i = (this.items.length >> 1) - 1; i >= 0; i--) this.down(i);
  }

  private down(i: number): void {
    const a = this.items;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && this.before(a[l] as T, a[m] as T)) m = l;
      if (r < a.length && this.before(a[r] as T, a[m] as T)) m = r;
      if (m === i) return;
      [a[i], a[m]] = [a[m] as T, a[i] as T];
      i = m;
    }
  }
}
