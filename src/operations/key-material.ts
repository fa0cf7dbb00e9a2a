import { isKmsError } from '../domain/errors.js';
import type { Hsm } from '../ports/hsm.js';
import type { KeyMaterialIntent, MetadataStore } from '../ports/metadata-store.js';

/**
 * Makes a token object and the metadata naming it, in the crash-safe order of
 * KeyMaterialIntentStore (src/ports/metadata-store.ts): the intent, then the object, then the
 * metadata, whose transaction takes the intent. A crash or failure anywhere leaves either both
 * (the metadata committed) or a pending intent, which the scheduler leader destroys later.
 */
export async function withNewKeyMaterial<T>(
  hsm: Pick<Hsm, 'destroyKey'>,
  store: Pick<MetadataStore, 'recordKeyMaterialIntent' | 'dropKeyMaterialIntent'>,
  intent: KeyMaterialIntent,
  generate: () => Promise<void>,
  storeMetadata: () => Promise<T>,
): Promise<T> {
  await store.recordKeyMaterialIntent(intent);
  // A failed generation may still have made an object (a network HSM that timed out): the intent
  // stays pending, and the scheduler destroys whatever carries the version id.
  await generate();
  try {
    return await storeMetadata();
  } catch (error) {
    if (isKmsError(error) && error.name !== 'DependencyTimeoutException') {
      // The store refused (a quota, a state, a duplicate) and wrote nothing: no metadata will name
      // the object. If this clean-up fails, the intent is still pending and the scheduler finishes it.
      await hsm
        .destroyKey(intent.versionId)
        .then(() => store.dropKeyMaterialIntent(intent.versionId))
        .catch(() => undefined);
    }
    // Otherwise the database may have committed before the answer was lost: only the store knows
    // (the intent is gone if it did), so the scheduler decides rather than this request.
    throw error;
  }
}
