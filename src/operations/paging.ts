import { needs, validation } from '../domain/errors.js';

/** AWS KMS list operations take Limit 1..max (1000 for most; ListResourceTags 50). */
export function validateLimit(limit: number | undefined, max = 1000): void {
  needs(limit === undefined || (Number.isInteger(limit) && limit >= 1 && limit <= max), () =>
    validation(`Limit must be between 1 and ${max}.`),
  );
}
