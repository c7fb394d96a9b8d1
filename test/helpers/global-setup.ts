/**
 * vitest global setup: one emulated AWS account (moto server) for the whole run, and one
 * synthesizer of Phoenix's IAM policies (iam/policy-server.ts) that the IAM gate asks.
 *
 * Both listen on free loopback ports; their URLs are provided to every test file as
 * `inject('motoEndpoint')` and `inject('iamPolicyEndpoint')`. The emulator is stopped by its
 * own process id when the run ends (or when vitest is interrupted), so no server outlives the
 * tests. Starting and stopping it live in the emulator module (emulator/moto-process.ts), shared
 * with the benchmarks and the demo.
 */
import type { TestProject } from 'vitest/node';
import { startEmulator } from '../../emulator/moto-process';
import { startPolicyServer } from './iam/policy-server';

declare module 'vitest' {
  export interface ProvidedContext {
    motoEndpoint: string;
    iamPolicyEndpoint: string;
  }
}

/**
 * EC2 refuses a launch as AWS would: an instance type the region does not offer, an image or
 * a key pair that does not exist (moto accepts any unless told otherwise).
 */
export const AWS_LIKE_LAUNCH_VALIDATION = {
  MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION: 'true',
  MOTO_ENABLE_AMI_VALIDATION: 'true',
  MOTO_ENABLE_KEYPAIR_VALIDATION: 'true',
} as const;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const emulator = await startEmulator({ env: AWS_LIKE_LAUNCH_VALIDATION });
  const policies = await startPolicyServer();
  project.provide('motoEndpoint', emulator.endpoint);
  project.provide('iamPolicyEndpoint', policies.url);
  return async () => {
    await policies.stop();
    await emulator.stop();
  };
}
