/**
 * SDK v3 clients for an emulated account, given its endpoint: the tests' (test/helpers/
 * emulator.ts, on the run's server) and the account scenarios' (account.ts) build theirs here.
 */
import {
  type CommonClientConfig,
  clientConfig,
  makeClients,
  type PhoenixClients,
} from '../functions/aws/clients';

/** The region every emulated account lives in. */
export const EMULATOR_REGION = 'us-east-1';

/** moto accepts any credentials; fixed dummy ones keep the SDK away from real profiles. */
export const EMULATOR_CREDENTIALS = {
  accessKeyId: 'testing',
  secretAccessKey: 'testing',
} as const;

const emulatorClientOptions = (endpoint: string) => ({
  region: EMULATOR_REGION,
  endpoint,
  credentials: { ...EMULATOR_CREDENTIALS },
  // moto never throttles, and some calls it does not implement answer 500: retry once for
  // a transient socket error, not five times with backoff on an error that will not change.
  maxAttempts: 2,
});

/** Phoenix's clients for the emulator at `endpoint` (e.g. `http://127.0.0.1:40123`). */
export function emulatorClients(endpoint: string): PhoenixClients {
  return makeClients(emulatorClientOptions(endpoint));
}

/** The configuration of any other SDK client (SSM, IAM…) for the emulator at `endpoint`. */
export function emulatorClientConfig(endpoint: string): CommonClientConfig {
  return clientConfig(emulatorClientOptions(endpoint));
}
