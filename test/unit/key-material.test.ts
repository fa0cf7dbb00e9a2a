import { describe, expect, it } from 'vitest';
import { KmsError } from '../../src/domain/errors.js';
import { withNewKeyMaterial } from '../../src/operations/key-material.js';

const INTENT = { versionId: 'v-1', keyId: 'k-1', recordedAt: new Date(0) };

/** Records the calls of the crash-safe sequence in order; `failing` names steps that throw. */
function steps(failing: Partial<Record<'record' | 'generate' | 'destroy' | 'drop', Error>> = {}) {
  const calls: string[] = [];
  const step = (name: 'record' | 'generate' | 'destroy' | 'drop') => async () => {
    calls.push(name);
    if (failing[name]) throw failing[name];
  };
  const hsm = { destroyKey: (versionId: string) => (calls.push(`destroy ${versionId}`), step('destroy')()) };
  const store = {
    recordKeyMaterialIntent: (intent: typeof INTENT) => (calls.push(`record ${intent.versionId}`), step('record')()),
    dropKeyMaterialIntent: (versionId: string) => (calls.push(`drop ${versionId}`), step('drop')()),
  };
  return { calls, hsm, store, generate: step('generate') };
}

describe('withNewKeyMaterial', () => {
  it('records the intent before making the object, and stores the metadata last', async () => {
    const s = steps();
    const result = await withNewKeyMaterial(s.hsm, s.store, INTENT, s.generate, async () => (s.calls.push('store'), 'stored'));
    expect(result).toBe('stored');
    expect(s.calls).toEqual(['record v-1', 'record', 'generate', 'store']);
  });

  it('makes no object when the intent cannot be recorded', async () => {
    const s = steps({ record: new KmsError('AlreadyExistsException', 'taken') });
    await expect(withNewKeyMaterial(s.hsm, s.store, INTENT, s.generate, async () => 'stored')).rejects.toThrow('taken');
    expect(s.calls).toEqual(['record v-1', 'record']);
  });

  it('destroys the object and drops the intent when the store refuses, and answers the refusal', async () => {
    const s = steps();
    const refusal = new KmsError('LimitExceededException', 'quota');
    await expect(withNewKeyMaterial(s.hsm, s.store, INTENT, s.generate, () => Promise.reject(refusal))).rejects.toBe(refusal);
    expect(s.calls).toEqual(['record v-1', 'record', 'generate', 'destroy v-1', 'destroy', 'drop v-1', 'drop']);
  });

  it('leaves object and intent to the scheduler when the store may have committed (database away, unknown errors)', async () => {
    for (const error of [new KmsError('DependencyTimeoutException', 'away'), new Error('SQLITE_IOERR')]) {
      const s = steps();
      await expect(withNewKeyMaterial(s.hsm, s.store, INTENT, s.generate, () => Promise.reject(error))).rejects.toBe(error);
      expect(s.calls).toEqual(['record v-1', 'record', 'generate']);
    }
  });

  it('leaves the intent pending when generation fails, since a timed-out token may still have made the object', async () => {
    const s = steps({ generate: new Error('CKR_DEVICE_ERROR') });
    let stored = false;
    await expect(withNewKeyMaterial(s.hsm, s.store, INTENT, s.generate, async () => (stored = true))).rejects.toThrow('CKR_DEVICE_ERROR');
    expect(stored).toBe(false);
    expect(s.calls).toEqual(['record v-1', 'record', 'generate']);
  });

  it('answers the refusal, not the clean-up error, when destroying fails; the intent stays for the scheduler', async () => {
    const s = steps({ destroy: new Error('CKR_SESSION_CLOSED') });
    const refusal = new KmsError('KMSInvalidStateException', 'disabled meanwhile');
    await expect(withNewKeyMaterial(s.hsm, s.store, INTENT, s.generate, () => Promise.reject(refusal))).rejects.toBe(refusal);
    expect(s.calls).toEqual(['record v-1', 'record', 'generate', 'destroy v-1', 'destroy']);
  });
});
