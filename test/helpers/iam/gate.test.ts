/**
 * The IAM gate itself: each call decided against the role that would make it, with the
 * resource's tags as they are at that moment, refused the way AWS refuses it, and reported
 * with what was missing or what denied it.
 */
import { CreateTagsCommand, EC2ServiceException, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultImageIds, seedNetwork } from '../../../emulator/seed';
import type { AwsCall, CallGate } from '../../../functions/aws/call-gate';
import { compileYaml } from '../account';
import { TEST_REGION, testClients } from '../emulator';
import { iamGate, takeDenials } from './gate';

const STATE = compileYaml(
  `
version: 1
defaults: { mode: enforce }
fleets:
  reports:
    match: { tags: { App: reports } }
    launchTemplate: { name: reports-lt }
    exclude: { tags: { Keep: "yes" } }
`,
  { commit: 'gate', sha256: 'b'.repeat(64) },
);

const clients = testClients();
let gate: CallGate;
let image = '';
let subnet = '';

beforeAll(async () => {
  gate = await iamGate({
    desiredState: STATE,
    names: {
      region: TEST_REGION,
      tableName: 'phoenix-gate',
      topicArn: 'arn:aws:sns:us-east-1:123456789012:phoenix-gate',
    },
    clients,
  });
  [image = ''] = await defaultImageIds(clients.ec2, 1);
  subnet = (await seedNetwork(clients.ec2, { name: 'gate' })).subnetIds[0];
});

async function instance(tags: Record<string, string>): Promise<string> {
  const out = await clients.ec2.send(
    new RunInstancesCommand({
      ImageId: image,
      InstanceType: 't3.micro',
      MinCount: 1,
      MaxCount: 1,
      SubnetId: subnet,
      TagSpecifications: [
        { ResourceType: 'instance', Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) },
      ],
    }),
  );
  return out.Instances?.[0]?.InstanceId ?? '';
}

// The remediation steps terminate old instances (ADR 12: the termination is a steps-Lambda task).
const terminate = (id: string): AwsCall => ({
  principal: 'remediation-steps',
  client: 'ec2',
  operation: 'TerminateInstances',
  input: { InstanceIds: [id] },
});

describe('the IAM gate', () => {
  it("lets the remediation steps' role terminate an instance of a declared fleet", async () => {
    const id = await instance({ App: 'reports' });

    await expect(gate(terminate(id))).resolves.toBeUndefined();
    expect(takeDenials()).toEqual([]);
  });

  it('refuses as EC2 refuses (UnauthorizedOperation), an instance the fleet excludes, naming the Deny', async () => {
    const id = await instance({ App: 'reports', Keep: 'yes' });

    const refused = await Promise.resolve(gate(terminate(id))).catch((error: unknown) => error);

    expect(refused).toBeInstanceOf(EC2ServiceException);
    expect(refused).toMatchObject({ name: 'UnauthorizedOperation' });
    const [denial, ...more] = takeDenials();
    expect(more).toEqual([]);
    expect(denial).toMatchObject({
      principal: 'remediation-steps',
      action: 'ec2:TerminateInstances',
      decision: 'ExplicitlyDenied',
    });
    expect(denial?.message).toMatch(
      /explicitly denied by\s+\{"Action":"ec2:TerminateInstances".*"aws:ResourceTag\/Keep":"yes".*"Effect":"Deny"/,
    );
  });

  it('reads the tags as they are at the moment of the call: a tag changed by hand takes the instance out of reach', async () => {
    const id = await instance({ App: 'reports' });
    await expect(gate(terminate(id))).resolves.toBeUndefined();

    await clients.ec2.send(
      new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'App', Value: 'someone-else' }] }),
    );

    await expect(gate(terminate(id))).rejects.toMatchObject({ name: 'UnauthorizedOperation' });
    const [denial] = takeDenials();
    expect(denial?.message).toContain('aws:ResourceTag/App=someone-else');
    expect(denial?.message).toMatch(/condition StringEquals aws:ResourceTag\/App = reports fails/);
  });

  it("decides each call as its own role: the evaluator's may not terminate anything", async () => {
    const id = await instance({ App: 'reports' });

    await expect(gate({ ...terminate(id), principal: 'evaluator' })).rejects.toMatchObject({
      name: 'UnauthorizedOperation',
    });
    expect(takeDenials()[0]?.message).toContain("the evaluator function's role");
  });

  it('fails loudly on a call it has no model for, rather than letting it through', async () => {
    await expect(
      gate({
        principal: 'remediation-steps',
        client: 'ec2',
        operation: 'DeleteVpc',
        input: { VpcId: 'vpc-1' },
      }),
    ).rejects.toThrow('no IAM model for ec2:DeleteVpc (made by remediation-steps)');
  });
});
