import { DescribeVpcsCommand } from '@aws-sdk/client-ec2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeClients } from '../../functions/aws/clients';
import { emulatorEndpoint, TEST_CREDENTIALS } from '../helpers/emulator';

const SDK_ENV = ['AWS_REGION', 'AWS_ENDPOINT_URL', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] as const;

describe('makeClients', () => {
  const saved = new Map<string, string | undefined>();
  beforeEach(() => {
    for (const name of SDK_ENV) saved.set(name, process.env[name]);
  });
  afterEach(() => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('builds each client once, on first use, and reuses it', () => {
    const clients = makeClients({ region: 'us-east-1' });

    expect(clients.ec2).toBe(clients.ec2);
    expect(clients.sfn).toBe(clients.sfn);
    expect(clients.ec2).not.toBe(makeClients({ region: 'us-east-1' }).ec2);
  });

  it('uses an explicit region, endpoint and retry budget', async () => {
    const clients = makeClients({ region: 'eu-central-1', endpoint: 'http://127.0.0.1:1', maxAttempts: 2 });

    expect(await clients.autoScaling.config.region()).toBe('eu-central-1');
    expect(await clients.autoScaling.config.maxAttempts()).toBe(2);
    const endpoint = await clients.autoScaling.config.endpoint?.();
    expect(endpoint?.hostname).toBe('127.0.0.1');
    expect(endpoint?.port).toBe(1);
  });

  it('follows the SDK environment (AWS_REGION, AWS_ENDPOINT_URL, credentials) when given nothing', async () => {
    process.env.AWS_REGION = 'us-east-1';
    process.env.AWS_ENDPOINT_URL = emulatorEndpoint();
    process.env.AWS_ACCESS_KEY_ID = TEST_CREDENTIALS.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = TEST_CREDENTIALS.secretAccessKey;

    const { ec2 } = makeClients();

    expect(await ec2.config.region()).toBe('us-east-1');
    // Answered by the emulated account, so the endpoint came from the environment.
    await expect(ec2.send(new DescribeVpcsCommand({}))).resolves.toHaveProperty('Vpcs');
  });

  it('lets an explicit endpoint win over AWS_ENDPOINT_URL', async () => {
    process.env.AWS_ENDPOINT_URL = 'http://127.0.0.1:1';

    const { ec2 } = makeClients({
      region: 'us-east-1',
      endpoint: emulatorEndpoint(),
      credentials: { ...TEST_CREDENTIALS },
    });

    await expect(ec2.send(new DescribeVpcsCommand({}))).resolves.toHaveProperty('Vpcs');
  });

  it('destroys only the clients it built: a client never used is not built to be destroyed', () => {
    // A client built with an empty region throws "Region is missing" when constructed.
    const clients = makeClients({ region: '' });

    expect(() => clients.destroy()).not.toThrow();
  });
});
