import { RunInstancesCommand } from '@aws-sdk/client-ec2';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  InsufficientCapacityError,
  LaunchRejectedError,
  ReplacementFailedError,
  StepInputError,
} from '../../../functions/remediation/errors';
import type { MachineData } from '../../../functions/remediation/input';
import { launchReplacement } from '../../../functions/remediation/steps';
import { awsError, CTX, FakeAccount, fakeDeps, fakeStore, SUBNET } from './fakes';
import { API_LT, input, lease, REPLACEMENT, seedApiInstance, standalonePlan } from './state';

describe('launchReplacement', () => {
  let account: FakeAccount;
  const data: MachineData = { ...input('api'), plan: standalonePlan(), lease: lease() };
  beforeEach(() => {
    account = new FakeAccount();
    seedApiInstance(account);
  });

  it('launches one instance from the pinned version in the planned subnet, tags and token set at launch', async () => {
    account.ec2.on(RunInstancesCommand, () => ({ Instances: [{ InstanceId: REPLACEMENT }] }));

    expect(await launchReplacement(fakeDeps(account, fakeStore()), data, CTX)).toEqual({
      instanceId: REPLACEMENT,
    });
    expect(account.ec2.inputsOf(RunInstancesCommand)).toEqual([
      {
        LaunchTemplate: { LaunchTemplateId: API_LT, Version: '2' },
        MinCount: 1,
        MaxCount: 1,
        ClientToken: 'c'.repeat(64),
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'App', Value: 'api' }] }],
        SubnetId: SUBNET,
      },
    ]);
  });

  it('places the subnet in the primary interface of a template that defines interfaces', async () => {
    const template = account.templates.find((t) => t.LaunchTemplateId === API_LT);
    if (template?.LaunchTemplateData)
      template.LaunchTemplateData.NetworkInterfaces = [{ DeviceIndex: 0, Groups: ['sg-1'] }];
    account.ec2.on(RunInstancesCommand, () => ({ Instances: [{ InstanceId: REPLACEMENT }] }));
    const plan = standalonePlan();
    if (plan.standalone) plan.standalone.networkInterfaces = true;

    await launchReplacement(fakeDeps(account, fakeStore()), { ...data, plan }, CTX);

    const [request] = account.ec2.inputsOf(RunInstancesCommand);
    expect(request?.SubnetId).toBeUndefined();
    expect(request?.NetworkInterfaces).toEqual([{ DeviceIndex: 0, Groups: ['sg-1'], SubnetId: SUBNET }]);
  });

  it.each([
    {
      code: 'InsufficientInstanceCapacity',
      fault: 'server' as const,
      error: InsufficientCapacityError,
      message:
        /^EC2 has no capacity to launch a replacement from launch template lt-\w+ version 2 now \(InsufficientInstanceCapacity: /,
    },
    {
      code: 'InvalidParameterValue',
      fault: 'client' as const,
      error: LaunchRejectedError,
      message:
        /^EC2 refused to launch a replacement from launch template lt-\w+ version 2 \(InvalidParameterValue: .*\); retrying cannot fix this$/,
    },
    {
      code: 'UnauthorizedOperation',
      fault: 'client' as const,
      error: LaunchRejectedError,
      message: /UnauthorizedOperation/,
    },
  ])('tells EC2 refusing with $code apart by its code', async ({ code, fault, error, message }) => {
    account.ec2.on(RunInstancesCommand, () => {
      throw awsError(code, `refused: ${code}`, fault);
    });
    const promise = launchReplacement(fakeDeps(account, fakeStore()), data, CTX);
    await expect(promise).rejects.toThrow(error);
    await expect(promise).rejects.toThrow(message);
    await expect(promise).rejects.toMatchObject({ code });
  });

  it.each(['RequestLimitExceeded', 'AuthFailure'])(
    'keeps %s as it is: the dispatch retries throttling, a credential error is not the template',
    async (code) => {
      account.ec2.on(RunInstancesCommand, () => {
        throw awsError(code);
      });
      await expect(launchReplacement(fakeDeps(account, fakeStore()), data, CTX)).rejects.toMatchObject({
        name: code,
      });
    },
  );

  it('fails the replacement when EC2 answers with no instance, naming the execution', async () => {
    account.ec2.on(RunInstancesCommand, () => ({ Instances: [] }));
    await expect(launchReplacement(fakeDeps(account, fakeStore()), data, CTX)).rejects.toThrow(
      new ReplacementFailedError(
        `RunInstances from launch template ${API_LT} version 2 returned no instance (execution run-1)`,
      ),
    );
  });

  it('needs a standalone plan', async () => {
    await expect(launchReplacement(fakeDeps(account, fakeStore()), input('api'), CTX)).rejects.toThrow(
      StepInputError,
    );
  });
});
