let lastTime = NaN;
let lastText = '';

/**
 * Date.prototype.toISOString, remembered for the last millisecond: every request writes its time
 * twice (aws:CurrentTime, the audit entry), and at a few thousand requests a second several share
 * each millisecond. Throws a RangeError for an invalid Date, as toISOString does.
 */
export function isoTime(date: Date): string {
  const time = date.getTime();
  if (time !== lastTime) {
    lastText = date.toISOString();
    lastTime = time;
  }
  return lastText;
}
