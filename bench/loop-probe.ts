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
  let profiler: Session | undefined;
  let windows = 0;
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
    if (heapDir) {
      heapWindow(heapDir);
      return;
    }
    if (!profileDir) return;
    if (profiler) {
      const window = ++windows;
      profiler.post('Profiler.stop', (error, result) => {
        if (!error) writeFileSync(join(profileDir, `window-${window}.cpuprofile`), JSON.stringify(result.profile));
      });
    } else {
      profiler = new Session();
      profiler.connect();
      profiler.post('Profiler.enable');
      profiler.post('Profiler.setSamplingInterval', { interval: 200 });
    }
    profiler.post('Profiler.start');
  });
}

let heapProfiler: Session | undefined;
let heapWindows = 0;
/** Ends the current allocation window (writing its profile) and starts the next. */
function heapWindow(dir: string): void {
  if (heapProfiler) {
    const window = ++heapWindows;
    heapProfiler.post('HeapProfiler.stopSampling', (error, result) => {
      if (!error) writeFileSync(join(dir, `window-${window}.heapprofile`), JSON.stringify(result.profile));
    });
  } else {
    heapProfiler = new Session();
    heapProfiler.connect();
    heapProfiler.post('HeapProfiler.enable');
  }
  heapProfiler.post('HeapProfiler.startSampling', {
    samplingInterval: 1024,
    // 'promoted': leave out what a scavenge freed, so that what remains is what outlived the young
    // generation (promoted, whether a full GC freed it later or not).
    includeObjectsCollectedByMinorGC: process.env.P11KMS_BENCH_HEAP_KEEP !== 'promoted',
    includeObjectsCollectedByMajorGC: true,
  });
}
