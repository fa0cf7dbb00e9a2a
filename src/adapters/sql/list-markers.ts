import { KmsError, needs, validation } from '../../domain/errors.js';
import type { Page } from '../../ports/metadata-store.js';

/**
 * Where a listing stopped: the sort value (epoch milliseconds) and the unique id of the last item
 * returned. Every listing of the store orders by `(at, id)`, so the next page starts strictly after
 * this position. Shared by the SQLite and PostgreSQL stores so their markers read the same.
 */
export interface ListPosition {
  readonly at: number;
  readonly id: string;
}

/**
 * AWS KMS's Marker is opaque; ours is `v1:<at>:<id>` in base64url. A position, not a row
 * reference, so a page still continues correctly if the item it names is gone.
 */
export function encodeListMarker({ at, id }: ListPosition): string {
  return Buffer.from(`v1:${at}:${id}`, 'utf8').toString('base64url');
}

const MARKER = /^v1:(-?(?:0|[1-9]\d{0,15})):(.+)$/s;

/**
 * Reads a marker back. `isId` says what ids this listing holds (key ids, alias names …), so a
 * marker from another listing, or one altered by hand, gives InvalidMarkerException.
 */
export function decodeListMarker(marker: string, isId: (id: string) => boolean): ListPosition {
  // Buffer.from skips characters that are not base64url, so re-encode to reject altered markers.
  const text = Buffer.from(marker, 'base64url').toString('utf8');
  const match = MARKER.exec(text);
  const at = Number(match?.[1]);
  const id = match?.[2];
  if (
    id === undefined ||
    !isId(id) ||
    !Number.isSafeInteger(at) ||
    Buffer.from(text, 'utf8').toString('base64url') !== marker
  ) {
    throw new KmsError(
      'InvalidMarkerException',
      'The Marker is not valid; pass the NextMarker of a previous response.',
    );
  }
  return { at, id };
}

/** AWS KMS's Limit: a positive integer (operations apply their own upper bound before the store). */
export function requirePageLimit(limit: number): void {
  needs(Number.isInteger(limit) && limit >= 1, () => validation('Limit must be a positive integer.'));
}

/**
 * Turns `limit + 1` rows read in `(at, id)` order into a page: the extra row only tells that
 * another page follows, and the marker is the position of the last item kept.
 */
export function pageOfRows<Row, Item>(
  rows: readonly Row[],
  limit: number,
  toItem: (row: Row) => Item,
  positionOf: (item: Item) => ListPosition,
): Page<Item> {
  const items = rows.slice(0, limit).map(toItem);
  const last = items[items.length - 1];
  return {
    items,
    nextMarker: rows.length > limit && last !== undefined ? encodeListMarker(positionOf(last)) : undefined,
  };
}
