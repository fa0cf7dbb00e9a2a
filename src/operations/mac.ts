import { MAC_ALGORITHMS, type MacAlgorithm } from '../domain/key-spec-facts.js';
import { validateChoice, validateMessage } from './key-algorithms.js';

/** The request fields GenerateMac and VerifyMac share (AWS KMS API reference). */
export interface MacRequest {
  readonly keyId?: string;
  readonly message?: Buffer;
  readonly macAlgorithm?: MacAlgorithm;
  readonly grantTokens?: readonly string[];
}

export function validateMacRequest(request: MacRequest): void {
  validateMessage(request.message);
  validateChoice(request.macAlgorithm, MAC_ALGORITHMS, 'MacAlgorithm');
}

export const macConditions = (r: MacRequest) => ({ keys: { 'kms:MacAlgorithm': r.macAlgorithm } });
export const macAudit = (r: MacRequest) => ({ keyId: r.keyId, macAlgorithm: r.macAlgorithm });
