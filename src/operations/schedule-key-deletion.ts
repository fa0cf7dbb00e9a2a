import { needs, validation } from '../domain/errors.js';
import { defineOperation } from './operation.js';
import { daysAfter } from './rotation.js';

export interface ScheduleKeyDeletionRequest {
  readonly keyId?: string;
  readonly pendingWindowInDays?: number;
}

export interface ScheduleKeyDeletionResponse {
  readonly keyId: string;
  readonly deletionDate: Date;
  readonly keyState: 'PendingDeletion';
  readonly pendingWindowInDays: number;
}

/** AWS KMS ScheduleKeyDeletion: PendingWindowInDays 7–30, 30 when absent. */
export const MIN_PENDING_WINDOW_DAYS = 7;
export const MAX_PENDING_WINDOW_DAYS = 30;

/**
 * The key becomes PendingDeletion at once (unusable, still cancellable); the deletion scheduler
 * destroys its token objects and then its metadata once the date has passed.
 */
export const scheduleKeyDeletion = defineOperation<ScheduleKeyDeletionRequest, ScheduleKeyDeletionResponse, 'key'>({
  name: 'ScheduleKeyDeletion',
  keys: { key: { ref: (r) => r.keyId, field: 'KeyId', action: 'kms:ScheduleKeyDeletion', stateRules: 'ScheduleKeyDeletion' } },
  audit: (r) => ({ keyId: r.keyId, pendingWindowInDays: r.pendingWindowInDays }),
  validate(request) {
    const days = request.pendingWindowInDays;
    needs(days === undefined || (Number.isInteger(days) && days >= MIN_PENDING_WINDOW_DAYS && days <= MAX_PENDING_WINDOW_DAYS), () =>
      validation(`PendingWindowInDays must be between ${MIN_PENDING_WINDOW_DAYS} and ${MAX_PENDING_WINDOW_DAYS}.`),
    );
  },
  async run(request, { store, clock, keys: { key } }) {
    const days = request.pendingWindowInDays ?? MAX_PENDING_WINDOW_DAYS;
    const updated = await store.scheduleKeyDeletion(key.id, daysAfter(clock.now(), days));
    return { keyId: key.arn, deletionDate: updated.deletionDate!, keyState: 'PendingDeletion', pendingWindowInDays: days };
  },
});
