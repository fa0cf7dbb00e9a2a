/**
 * Preloaded into the server under test (`node --import ./dist/bench/loop-probe.js …`): samples the
 * event-loop delay and, on SIGUSR2, writes {p99Ms, maxMs, rssBytes} to $P11KMS_BENCH_PROBE and
 * starts a fresh window. It only observes; the service itself is unchanged.
 */
import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const target = process.env.P11KMS_BENCH_PROBE;
if (target) {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  process.on('SIGUSR2', () => {
    writeFileSync(
      target,
      JSON.stringify({
        p99Ms: histogram.percentile(99) / 1e6,
        maxMs: histogram.max / 1e6,
        rssBytes: process.memoryUsage().rss,
      }),
    );
    histogram.reset();
  });
}
