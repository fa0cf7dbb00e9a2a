/**
 * A value now, or a promise of it: a cache answers at once, a database later. `await` takes
 * either; a hot path that must not pay for an await of a value already there checks isPromise
 * first (an await costs a promise, its reaction and a turn of the microtask queue even then).
 */
export type Awaitable<T> = T | Promise<T>;

export function isPromise<T>(value: Awaitable<T>): value is Promise<T> {
  return value instanceof Promise;
}
