// The host bytes one load holds itself: every ArrayBuffer / typed array it keeps alive for weight bytes (whole files
// in naive and fp16, gather chunks, network and cache chunks while they are routed, conversion buffers, read-back
// copies of cached int8 weights), counted when it is taken and when it is let go, with the peak. This is the browser
// worker's measure of host memory, where no process-level one exists (performance.memory and
// measureUserAgentSpecificMemory are absent there); in Node it is reported beside rss.
// Not counted: what the platform holds out of the loader's sight (fetch's own body buffers, the copies
// queue.writeBuffer stages in Dawn or the browser's GPU process, buffers the GC has not collected yet), and arrays of
// a few bytes (element carries, uniform words).

export class HostLedger {
  private held = 0;
  private top = 0;

  /** Bytes held now. */
  get current(): number {
    return this.held;
  }

  /** The most held at once since construction (or the last resetPeak). */
  get peak(): number {
    return this.top;
  }

  /** Counts `bytes` as held; returns their release, which counts once however often it is called. */
  hold(bytes: number): () => void {
    if (!(bytes >= 0) || !Number.isFinite(bytes)) throw new RangeError(`host ledger: cannot hold ${bytes} bytes`);
    this.held += bytes;
    if (this.held > this.top) this.top = this.held;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held -= bytes;
    };
  }

  /** Holds `bytes` while `f` runs, released however it ends. */
  async during<R>(bytes: number, f: () => R | Promise<R>): Promise<R> {
    const release = this.hold(bytes);
    try {
      return await f();
    } finally {
      release();
    }
  }

  resetPeak(): void {
    this.top = this.held;
  }
}
