/**
 * The emulated AWS account (moto server) as tests see it.
 *
 * The server itself is started once per run by `global-setup.ts` (through the emulator
 * module, emulator/moto-process.ts); these helpers read its URL, clear its state and build
 * SDK clients pointed at it (emulator/clients.ts).
 */
import { inject } from 'vitest';
import {
  EMULATOR_CREDENTIALS,
  EMULATOR_REGION,
  emulatorClientConfig,
  emulatorClients,
} from '../../emulator/clients';
import type { CommonClientConfig, PhoenixClients } from '../../functions/aws/clients';

/** The region every test account lives in. */
export const TEST_REGION = EMULATOR_REGION;

/** moto accepts any credentials; fixed dummy ones keep the SDK away from real profiles. */
export const TEST_CREDENTIALS = EMULATOR_CREDENTIALS;

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

/**
 * SDK v3 clients for the emulated account: region us-east-1, dummy credentials; on the run's
 * emulator unless a test started its own (`endpoint`).
 */
export function testClients(endpoint?: string): PhoenixClients {
  return emulatorClients(endpoint ?? emulatorEndpoint());
}

/** The configuration of any other SDK client for the emulated account (SSM, IAM…). */
export function testClientConfig(endpoint?: string): CommonClientConfig {
  return emulatorClientConfig(endpoint ?? emulatorEndpoint());
}
