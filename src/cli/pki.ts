// @peculiar/x509 resolves its algorithm providers through tsyringe, which needs the Reflect
// metadata API installed before it loads; ESM evaluates imports in order, so this one comes first.
import 'reflect-metadata';
import { KeyObject, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { parsePrincipal } from '../domain/principal.js';

/**
 * A development PKI for `p11kms init` and `p11kms issue-cert`: one CA, a server certificate for the
 * loopback interface, and client certificates whose URI SAN names the caller (DESIGN.md, "Identity").
 * Production deployments bring their own PKI; nothing here is used by the service at run time.
 */

/** A certificate and its private key, both PEM: the certificate as X.509, the key as PKCS#8. */
export interface CertificateAndKey {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface CertificateAuthorityOptions {
  readonly commonName: string;
  readonly validDays: number;
}

export interface ServerCertificateOptions {
  readonly commonName: string;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly validDays: number;
}

export interface ClientCertificateOptions {
  /** An IAM-style ARN or a service principal; it becomes the certificate's URI SAN. */
  readonly principal: string;
  readonly validDays: number;
}

/** RFC 5280 appendix A: `ub-common-name INTEGER ::= 64`. */
const MAX_COMMON_NAME_LENGTH = 64;

// ECDSA P-256 keeps certificates and handshakes small and is accepted by every TLS stack gRPC uses.
const KEY_ALGORITHM: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING_ALGORITHM: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };

// Passed explicitly to every @peculiar/x509 call rather than installed as its global provider, so
// importing this module changes nothing for other code in the process.
const crypto = webcrypto;

export async function createCertificateAuthority(options: CertificateAuthorityOptions): Promise<CertificateAndKey> {
  const keys = await generateKeyPair();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerialNumber(),
      name: distinguishedName(options.commonName),
      keys,
      signingAlgorithm: SIGNING_ALGORITHM,
      ...validityPeriod(options.validDays),
      extensions: [
        // RFC 5280 §4.2.1.9: conforming CAs mark basicConstraints critical in CA certificates.
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { certPem: certificate.toString('pem'), keyPem: await exportPrivateKeyPem(keys.privateKey) };
}

export async function issueServerCertificate(
  ca: CertificateAndKey,
  options: ServerCertificateOptions,
): Promise<CertificateAndKey> {
  if (options.dnsNames.length + options.ipAddresses.length === 0) {
    // TLS clients match the host they dialled against the SAN only (RFC 6125 §6.4.4), never the CN.
    throw new Error('A server certificate needs at least one DNS name or IP address.');
  }
  return issueCertificate(ca, {
    commonName: options.commonName,
    validDays: options.validDays,
    extendedKeyUsage: x509.ExtendedKeyUsage.serverAuth,
    subjectAlternativeNames: [
      ...options.dnsNames.map((value) => ({ type: 'dns' as const, value })),
      ...options.ipAddresses.map((value) => ({ type: 'ip' as const, value })),
    ],
  });
}

export async function issueClientCertificate(
  ca: CertificateAndKey,
  options: ClientCertificateOptions,
): Promise<CertificateAndKey> {
  // The service reads the caller's identity from this URI SAN; a value it cannot parse would
  // yield a certificate that authenticates as nobody, so refuse to issue it.
  if (parsePrincipal(options.principal) === undefined) {
    throw new Error(
      `Not a valid principal: ${JSON.stringify(options.principal)}. Expected an IAM ARN such as ` +
        'arn:aws:iam::111122223333:role/Name, arn:aws:iam::111122223333:root, ' +
        'arn:aws:sts::111122223333:assumed-role/Role/session, or a service principal such as s3.amazonaws.com.',
    );
  }
  return issueCertificate(ca, {
    // The CN is only a human-readable label for tools that show subjects; identity is the URI SAN.
    commonName: options.principal.slice(0, MAX_COMMON_NAME_LENGTH),
    validDays: options.validDays,
    extendedKeyUsage: x509.ExtendedKeyUsage.clientAuth,
    subjectAlternativeNames: [{ type: 'url', value: options.principal }],
  });
}

interface LeafCertificateProfile {
  readonly commonName: string;
  readonly validDays: number;
  readonly extendedKeyUsage: x509.ExtendedKeyUsage;
  readonly subjectAlternativeNames: x509.JsonGeneralName[];
}

async function issueCertificate(ca: CertificateAndKey, profile: LeafCertificateProfile): Promise<CertificateAndKey> {
  const caCertificate = new x509.X509Certificate(ca.certPem);
  const caSigningKey = await importPrivateKey(ca.keyPem);
  const keys = await generateKeyPair();
  const certificate = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerialNumber(),
      subject: distinguishedName(profile.commonName),
      // The CA's encoded name as-is, so chain building matches issuer to subject byte for byte.
      issuer: caCertificate.subjectName,
      publicKey: keys.publicKey,
      signingKey: caSigningKey,
      signingAlgorithm: SIGNING_ALGORITHM,
      ...validityPeriod(profile.validDays),
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        // ECDSA keys in TLS only ever sign the handshake (RFC 8446 §4.4.3).
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([profile.extendedKeyUsage], false),
        new x509.SubjectAlternativeNameExtension(profile.subjectAlternativeNames, false),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
        await x509.AuthorityKeyIdentifierExtension.create(caCertificate.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { certPem: certificate.toString('pem'), keyPem: await exportPrivateKeyPem(keys.privateKey) };
}

async function generateKeyPair(): Promise<webcrypto.CryptoKeyPair> {
  // Extractable because the whole point of this PKI is to write the keys to files for TLS stacks.
  return crypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
}

async function exportPrivateKeyPem(privateKey: webcrypto.CryptoKey): Promise<string> {
  return KeyObject.from(privateKey)
    .export({ type: 'pkcs8', format: 'pem' })
    .toString();
}

async function importPrivateKey(keyPem: string): Promise<webcrypto.CryptoKey> {
  // Parsing through node first accepts any PEM form OpenSSL writes (PKCS#8 or SEC1) and gives a
  // clear error for a key that is not a key at all.
  const pkcs8 = createPrivateKey(keyPem).export({ type: 'pkcs8', format: 'der' });
  return crypto.subtle.importKey('pkcs8', pkcs8, KEY_ALGORITHM, false, ['sign']);
}

/**
 * RFC 5280 §4.1.2.2: unique per CA, positive, at most 20 octets. 128 random bits make collisions
 * negligible without a serial-number database; the generator strips leading zeros and prepends one
 * where the high bit would otherwise make the integer negative.
 */
function randomSerialNumber(): string {
  return randomBytes(16).toString('hex');
}

function distinguishedName(commonName: string): x509.JsonName {
  // The JSON form, not an RFC 4514 string: principals may contain ',', '=' or '+', which a string
  // form would parse as separators.
  return [{ CN: [commonName] }];
}

function validityPeriod(validDays: number): { notBefore: Date; notAfter: Date } {
  if (!Number.isInteger(validDays) || validDays <= 0) {
    throw new Error(`validDays must be a positive whole number of days, got ${validDays}.`);
  }
  const now = Date.now();
  // Backdated a little so a peer whose clock runs slightly behind still accepts a fresh certificate.
  const clockSkewAllowance = 5 * 60 * 1000;
  return {
    notBefore: new Date(now - clockSkewAllowance),
    notAfter: new Date(now + validDays * 24 * 60 * 60 * 1000),
  };
}
