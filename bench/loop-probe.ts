/**
 * Preloaded into the server under test (`node --import ./dist/bench/loop-probe.js …`): samples the
 * event-loop delay and, on SIGUSR2, writes {p99Ms, maxMs, rssBytes} to $P11KMS_BENCH_PROBE and
 * starts a fresh window. With $P11KMS_BENCH_CPU_PROFILE (a directory) it also profiles the main
 * thread per window: each SIGUSR2 writes the window's profile there (window-N.cpuprofile) and starts
 * the next, so that setup (10,000 CreateKey calls) stays out of the profile. It only observes; the
 * service itself is unchanged. With $P11KMS_BENCH_HEAP_PROFILE (a directory) it samples the main
 * thread's allocations per window instead, the ones a scavenge or a full GC already freed included
 * (window-N.heapprofile): what the request path allocates, not only what stays alive; with
 * $P11KMS_BENCH_HEAP_KEEP=promoted, only what outlived the young generation.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const target = process.env.P11KMS_BENCH_PROBE;
const profileDir = process.env.P11KMS_BENCH_CPU_PROFILE;
const heapDir = process.env.P11KMS_BENCH_HEAP_PROFILE;
if (target) {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  const nextWindow = heapDir
    ? windowedProfiler(heapDir, 'heapprofile', {
        setup: [['HeapProfiler.enable']],
        start: ['HeapProfiler.startSampling', {
          samplingInterval: 1024,
          // 'promoted': leave out what a scavenge freed, so that what remains is what outlived the
          // young generation (promoted, whether a full GC freed it later or not).
          includeObjectsCollectedByMinorGC: process.env.P11KMS_BENCH_HEAP_KEEP !== 'promoted',
          includeObjectsCollectedByMajorGC: true,
        }],
        stop: 'HeapProfiler.stopSampling',
      })
    : profileDir
      ? windowedProfiler(profileDir, 'cpuprofile', {
          setup: [['Profiler.enable'], ['Profiler.setSamplingInterval', { interval: 200 }]],
          start: ['Profiler.start'],
          stop: 'Profiler.stop',
        })
      : undefined;
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
    nextWindow?.();
  });
}

type Call = [method: string, params?: object];

/**
 * An inspector profiler run per window: each call ends the current window, writing its profile
 * to DIR/window-N.EXT, and starts the next (the first call only starts one).
 */
function windowedProfiler(dir: string, ext: string, calls: { setup: Call[]; start: Call; stop: string }): () => void {
  const session = new Session();
  session.connect();
  for (const [method, params] of calls.setup) session.post(method, params);
  let windows = 0;
  let running = false;
  return () => {
    if (running) {
      const window = ++windows;
      session.post(calls.stop, (error, result) => {
        if (!error) writeFileSync(join(dir, `window-${window}.${ext}`), JSON.stringify((result as { profile: unknown }).profile));
      });
    }
    session.post(...calls.start);
    running = true;
  };
}
