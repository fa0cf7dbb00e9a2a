import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCertificateAuthority,
  issueClientCertificate,
  issueServerCertificate,
  type CertificateAndKey,
} from '../../src/cli/pki.js';

const ROLE_PRINCIPAL = 'arn:aws:iam::111122223333:role/DeveloperRole';
const SERVICE_PRINCIPAL = 's3.amazonaws.com';

let ca: CertificateAndKey;
let server: CertificateAndKey;
let client: CertificateAndKey;

beforeAll(async () => {
  ca = await createCertificateAuthority({ commonName: 'p11kms test CA', validDays: 30 });
  server = await issueServerCertificate(ca, {
    commonName: 'p11kms test server',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    validDays: 30,
  });
  client = await issueClientCertificate(ca, { principal: ROLE_PRINCIPAL, validDays: 30 });
});

describe('certificate authority', () => {
  it('is a self-signed CA certificate with a PKCS#8 P-256 key that matches it', () => {
    const certificate = new X509Certificate(ca.certPem);
    expect(certificate.ca).toBe(true);
    expect(certificate.subject).toBe('CN=p11kms test CA');
    expect(certificate.checkIssued(certificate)).toBe(true);
    expect(certificate.verify(certificate.publicKey)).toBe(true);
    expect(ca.keyPem.startsWith('-----BEGIN PRIVATE KEY-----\n')).toBe(true);
    const key = createPrivateKey(ca.keyPem);
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(certificate.checkPrivateKey(key)).toBe(true);
  });

  it('marks basicConstraints critical and limits key usage to certificate and CRL signing', async () => {
    const x509 = await import('@peculiar/x509');
    const certificate = new x509.X509Certificate(ca.certPem);
    const basicConstraints = certificate.getExtension(x509.BasicConstraintsExtension);
    expect(basicConstraints?.ca).toBe(true);
    expect(basicConstraints?.critical).toBe(true);
    const keyUsage = certificate.getExtension(x509.KeyUsagesExtension);
    expect(keyUsage?.usages).toBe(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
  });

  it('rejects a non-positive validity', async () => {
    await expect(createCertificateAuthority({ commonName: 'x', validDays: 0 })).rejects.toThrow(/validDays/);
  });
});

describe('server certificate', () => {
  it('is issued by the CA for serverAuth with DNS and IP SANs', () => {
    const certificate = new X509Certificate(server.certPem);
    const caCertificate = new X509Certificate(ca.certPem);
    expect(certificate.ca).toBe(false);
    expect(certificate.checkIssued(caCertificate)).toBe(true);
    expect(certificate.verify(caCertificate.publicKey)).toBe(true);
    expect(certificate.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1');
    expect(certificate.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(certificate.checkHost('localhost')).toBe('localhost');
    expect(certificate.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(certificate.checkPrivateKey(createPrivateKey(server.keyPem))).toBe(true);
  });

  it('refuses to issue a server certificate with no name a client could match', async () => {
    await expect(
      issueServerCertificate(ca, { commonName: 'nameless', dnsNames: [], ipAddresses: [], validDays: 1 }),
    ).rejects.toThrow(/at least one DNS name or IP address/);
  });
});

describe('client certificate', () => {
  it('carries the principal as a URI SAN and CN, for clientAuth, issued by the CA', () => {
    const certificate = new X509Certificate(client.certPem);
    expect(certificate.subjectAltName).toBe(`URI:${ROLE_PRINCIPAL}`);
    expect(certificate.subject).toBe(`CN=${ROLE_PRINCIPAL}`);
    expect(certificate.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(certificate.ca).toBe(false);
    expect(certificate.checkIssued(new X509Certificate(ca.certPem))).toBe(true);
    expect(client.keyPem.startsWith('-----BEGIN PRIVATE KEY-----\n')).toBe(true);
    expect(certificate.checkPrivateKey(createPrivateKey(client.keyPem))).toBe(true);
  });

  it('accepts a service principal as the URI SAN', async () => {
    const issued = await issueClientCertificate(ca, { principal: SERVICE_PRINCIPAL, validDays: 1 });
    expect(new X509Certificate(issued.certPem).subjectAltName).toBe(`URI:${SERVICE_PRINCIPAL}`);
  });

  it('truncates the CN to 64 characters but keeps the whole principal in the URI SAN', async () => {
    const principal = `arn:aws:sts::111122223333:assumed-role/${'LongRoleName'.repeat(4)}/session-${'x'.repeat(20)}`;
    expect(principal.length).toBeGreaterThan(64);
    const issued = await issueClientCertificate(ca, { principal, validDays: 1 });
    const certificate = new X509Certificate(issued.certPem);
    expect(certificate.subject).toBe(`CN=${principal.slice(0, 64)}`);
    expect(certificate.subjectAltName).toBe(`URI:${principal}`);
  });

  it('refuses a principal that parsePrincipal does not accept', async () => {
    for (const principal of ['', 'alice', 'arn:aws:iam::12345:role/Short', 'arn:aws:kms:us-east-1:111122223333:key/x']) {
      await expect(issueClientCertificate(ca, { principal, validDays: 1 })).rejects.toThrow(/Not a valid principal/);
    }
  });

  it('gets a fresh random serial number each time', async () => {
    const serials = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const issued = await issueClientCertificate(ca, { principal: ROLE_PRINCIPAL, validDays: 1 });
      serials.add(new X509Certificate(issued.certPem).serialNumber);
    }
    serials.add(new X509Certificate(client.certPem).serialNumber);
    serials.add(new X509Certificate(server.certPem).serialNumber);
    expect(serials.size).toBe(7);
  });
});

describe('mutual TLS with node:tls', () => {
  let tlsServer: tls.Server;
  let port: number;
  const acceptedPeers: Array<{ authorized: boolean; subjectAltName: string | undefined }> = [];
  const rejectedHandshakes: Error[] = [];

  beforeAll(async () => {
    tlsServer = tls.createServer(
      { cert: server.certPem, key: server.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true },
      (socket) => {
        acceptedPeers.push({ authorized: socket.authorized, subjectAltName: socket.getPeerCertificate().subjectaltname });
        socket.end('hello');
      },
    );
    tlsServer.on('tlsClientError', (error) => rejectedHandshakes.push(error));
    await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
    port = (tlsServer.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => tlsServer.close(() => resolve()));
  });

  /** Connects, reads until the server closes, and reports what the client saw. */
  function connect(credentials: Partial<CertificateAndKey>): Promise<{ received: string; error?: Error }> {
    return new Promise((resolve) => {
      let received = '';
      let error: Error | undefined;
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        ca: ca.certPem,
        ...(credentials.certPem ? { cert: credentials.certPem, key: credentials.keyPem } : {}),
      });
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (received += chunk));
      socket.on('error', (e) => (error = e));
      socket.on('close', () => resolve(error ? { received, error } : { received }));
    });
  }

  it('accepts a client presenting a certificate issued by the CA, and sees its URI SAN', async () => {
    const before = acceptedPeers.length;
    const outcome = await connect(client);
    expect(outcome.error).toBeUndefined();
    expect(outcome.received).toBe('hello');
    expect(acceptedPeers.slice(before)).toEqual([{ authorized: true, subjectAltName: `URI:${ROLE_PRINCIPAL}` }]);
  });

  it('rejects a client certificate issued by another CA', async () => {
    // Same subject name as the trusted CA: only the signature can tell them apart.
    const otherCa = await createCertificateAuthority({ commonName: 'p11kms test CA', validDays: 30 });
    const impostor = await issueClientCertificate(otherCa, { principal: ROLE_PRINCIPAL, validDays: 30 });
    const acceptedBefore = acceptedPeers.length;
    const rejectedBefore = rejectedHandshakes.length;
    const outcome = await connect(impostor);
    // Under TLS 1.3 the client may finish its half of the handshake before the server's alert
    // arrives, so the server's verdict is the one to assert on, not a client-side error.
    expect(outcome.received).toBe('');
    expect(acceptedPeers.length).toBe(acceptedBefore);
    // Node verifies the chain after OpenSSL's handshake and then destroys the socket, so the
    // server reports a dropped connection rather than a certificate alert.
    await waitFor(() => rejectedHandshakes.length > rejectedBefore);
  });

  it('rejects a client that presents no certificate', async () => {
    const acceptedBefore = acceptedPeers.length;
    const rejectedBefore = rejectedHandshakes.length;
    const outcome = await connect({});
    expect(outcome.received).toBe('');
    expect(acceptedPeers.length).toBe(acceptedBefore);
    await waitFor(() => rejectedHandshakes.length > rejectedBefore);
    expect(rejectedHandshakes.at(-1)?.message).toMatch(/peer did not return a certificate/);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
