/**
 * `compute` remembered per input, for inputs that repeat from request to request (a caller's
 * principal, a connection's peer address, condition key names, the key ARNs of audit entries).
 * Bounded: at `max` distinct inputs the oldest one is forgotten to make room (a Map keeps its
 * insertion order), so a stream of one-off inputs costs a recomputation, never unbounded growth.
 * With more inputs in use than `max`, it keeps `max` of them: 20,006 inputs taken at random
 * through a memory of 10,000 are found one time in two, where emptying the whole memory at the
 * bound found them one time in four. `compute` must be pure; its results are shared between
 * callers, so they must not be mutated.
 */
export function boundedMemo<T>(compute: (input: string) => T, max = 10_000): (input: string) => T {
  const memory = new Map<string, T>();
  return (input) => {
    const known = memory.get(input);
    if (known !== undefined || memory.has(input)) return known as T;
    if (memory.size >= max) memory.delete(memory.keys().next().value as string);
    const value = compute(input);
    memory.set(input, value);
    return value;
  };
}
