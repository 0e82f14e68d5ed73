/**
 * The assets that may start now, as positions in run order (the plan's dependency order): the
 * first in run order starts first, as a scan of the plan would pick it, in O(log n) per asset
 * instead of a scan after every completion.
 */
export class ReadyQueue {
  private heap: number[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(position: number): void {
    const h = this.heap;
    let i = h.length;
    h.push(position);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]! <= position) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = position;
  }

  /** The smallest position, or undefined when none is ready. */
  pop(): number | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= h.length) break;
        const right = left + 1;
        const child = right < h.length && h[right]! < h[left]! ? right : left;
        if (h[child]! >= last) break;
        h[i] = h[child]!;
        i = child;
      }
      h[i] = last;
    }
    return top;
  }
}
