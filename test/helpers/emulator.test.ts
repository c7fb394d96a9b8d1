import { CreateVpcCommand, DescribeVpcsCommand } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { emulatorEndpoint, resetEmulator, testClients } from './emulator';

describe('the emulated account', () => {
  it('listens on a loopback address provided by the global setup', () => {
    expect(emulatorEndpoint()).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('answers SDK clients and forgets everything on reset', async () => {
    const { ec2 } = testClients();
    const created = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.42.0.0/16' }));
    const vpcId = created.Vpc?.VpcId;
    expect(vpcId).toMatch(/^vpc-/);

    await resetEmulator();

    const after = await ec2.send(new DescribeVpcsCommand({}));
    expect(after.Vpcs?.map((v) => v.VpcId)).not.toContain(vpcId);
  });
});
