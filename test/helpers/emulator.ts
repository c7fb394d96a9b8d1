/**
 * The emulated AWS account (moto server) as tests see it.
 *
 * The server itself is started once per run by `global-setup.ts`; these helpers read its
 * URL, clear its state and build SDK clients pointed at it.
 */
import { inject } from 'vitest';
import {
  type CommonClientConfig,
  clientConfig,
  makeClients,
  type PhoenixClients,
} from '../../functions/aws/clients';

/** The region every test account lives in. */
export const TEST_REGION = 'us-east-1';

/** moto accepts any credentials; fixed dummy ones keep the SDK away from real profiles. */
export const TEST_CREDENTIALS = {
  accessKeyId: 'testing',
  secretAccessKey: 'testing',
} as const;

/** The moto server's base URL, e.g. `http://127.0.0.1:40123`. */
export function emulatorEndpoint(): string {
  const endpoint = inject('motoEndpoint');
  if (typeof endpoint !== 'string' || endpoint === '') {
    throw new Error('No emulated AWS account: vitest must run with globalSetup test/helpers/global-setup.ts');
  }
  return endpoint;
}

/** Clears every resource in the emulated account (all services, all regions). */
export async function resetEmulator(): Promise<void> {
  const response = await fetch(`${emulatorEndpoint()}/moto-api/reset`, { method: 'POST' });
  await response.body?.cancel();
  if (!response.ok) {
    throw new Error(`Resetting the emulated account failed: HTTP ${response.status}`);
  }
}

const testClientOptions = (endpoint: string = emulatorEndpoint()) => ({
  region: TEST_REGION,
  endpoint,
  credentials: { ...TEST_CREDENTIALS },
  // moto never throttles, and some calls it does not implement answer 500: retry once for
  // a transient socket error, not five times with backoff on an error that will not change.
  maxAttempts: 2,
});

/**
 * SDK v3 clients for the emulated account: region us-east-1, dummy credentials; on the run's
 * emulator unless a test started its own (`endpoint`).
 */
export function testClients(endpoint?: string): PhoenixClients {
  return makeClients(testClientOptions(endpoint));
}

/** The configuration of any other SDK client for the emulated account (SSM, IAM…). */
export function testClientConfig(endpoint?: string): CommonClientConfig {
  return clientConfig(testClientOptions(endpoint));
}
