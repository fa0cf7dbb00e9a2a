import { boundedMemo } from '../domain/memo.js';

/**
 * IAM wildcard matching: `*` matches any run of characters (including none), `?` exactly one.
 * Patterns are compiled once, when a policy is parsed; matching is a hand-written glob walk
 * (O(pattern × subject) at worst), so a hostile pattern such as `*a*a*a*b` cannot make a request
 * backtrack exponentially the way a naive regular expression would.
 */
export type Matcher = (subject: string) => boolean;

export function hasWildcard(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('?');
}

/**
 * IAM names compared without case (action names, condition key names) come back request after
 * request, against every statement: each is lower-cased once, not on every match.
 */
export const lowerCased = boundedMemo((name) => name.toLowerCase());
const same = (subject: string): string => subject;

export function compileWildcard(pattern: string, options: { ignoreCase?: boolean } = {}): Matcher {
  const ignoreCase = options.ignoreCase === true;
  const p = ignoreCase ? pattern.toLowerCase() : pattern;
  const fold = ignoreCase ? lowerCased : same;
  if (p === '*') return () => true;
  if (!hasWildcard(p)) return (subject) => fold(subject) === p;
  const star = p.indexOf('*');
  if (star === p.length - 1 && !p.includes('?')) {
    const prefix = p.slice(0, -1);
    return (subject) => fold(subject).startsWith(prefix);
  }
  return (subject) => globMatch(p, fold(subject));
}

/** Greedy glob with a single backtrack point: the classic linear-space algorithm. */
function globMatch(pattern: string, subject: string): boolean {
  let p = 0;
  let s = 0;
  let starP = -1;
  let starS = 0;
  while (s < subject.length) {
    const c = pattern[p];
    if (c === '?' || (c !== undefined && c !== '*' && c === subject[s])) {
      p += 1;
      s += 1;
    } else if (c === '*') {
      starP = p;
      starS = s;
      p += 1;
    } else if (starP >= 0) {
      p = starP + 1;
      starS += 1;
      s = starS;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p += 1;
  return p === pattern.length;
}

/**
 * ArnEquals / ArnLike (IAM condition operators): "each of the six colon-delimited components of
 * the ARN is checked separately and each can include wildcards". The sixth component (the
 * resource) keeps any further colons. A value that is not an ARN matches nothing. A pattern of
 * fewer than six components (`*`, `arn:aws:*`) is matched as one wildcard string.
 */
export function compileArnMatcher(pattern: string): Matcher {
  const parts = splitArn(pattern);
  if (!parts) {
    const whole = compileWildcard(pattern);
    return (subject) => splitArn(subject) !== undefined && whole(subject);
  }
  const matchers = parts.map((part) => compileWildcard(part));
  return (subject) => {
    const subjectParts = splitArn(subject);
    if (!subjectParts) return false;
    return matchers.every((match, i) => match(subjectParts[i]!));
  };
}

export function splitArn(value: string): string[] | undefined {
  const parts = value.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return undefined;
  return [...parts.slice(0, 5), parts.slice(5).join(':')];
}
