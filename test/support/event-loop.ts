import { monitorEventLoopDelay } from 'node:perf_hooks';

/** Runs `work` while sampling event-loop delay; returns the p99 in milliseconds. */
export async function p99EventLoopDelayDuring(work: () => Promise<void>): Promise<number> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  try {
    await work();
  } finally {
    histogram.disable();
  }
  return histogram.percentile(99) / 1e6;
}
