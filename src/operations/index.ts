/** Every operation the service serves, by its AWS KMS name. */
export { createKey } from './create-key.js';
export { describeKey } from './describe-key.js';
export { listKeys } from './list-keys.js';
export { enableKey } from './enable-key.js';
export { disableKey } from './disable-key.js';
export { encrypt } from './encrypt.js';
export { decrypt } from './decrypt.js';
export { reEncrypt } from './re-encrypt.js';
export { generateDataKey } from './generate-data-key.js';
export { generateDataKeyWithoutPlaintext } from './generate-data-key-without-plaintext.js';
export { generateRandom } from './generate-random.js';
