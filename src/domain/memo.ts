/**
 * `compute` remembered per input, for inputs that repeat from request to request (a caller's
 * principal, a connection's peer address, condition key names, the key ARNs of audit entries).
 * Bounded: at `max` distinct inputs the memory is emptied and refills with what is still in use,
 * so a stream of one-off inputs costs a recomputation, never unbounded growth. `compute` must be
 * pure; its results are shared between callers, so they must not be mutated.
 */
export function boundedMemo<T>(compute: (input: string) => T, max = 10_000): (input: string) => T {
  const memory = new Map<string, T>();
  return (input) => {
    const known = memory.get(input);
    if (known !== undefined || memory.has(input)) return known as T;
    if (memory.size >= max) memory.clear();
    const value = compute(input);
    memory.set(input, value);
    return value;
  };
}
