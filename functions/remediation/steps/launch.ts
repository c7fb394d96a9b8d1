/** A standalone replacement: launched by the step itself, so EC2's refusals are told apart by code. */
import { RunInstancesCommand, type RunInstancesCommandOutput } from '@aws-sdk/client-ec2';
import { launchErrorOf } from '../aws-errors';
import { ReplacementFailedError } from '../errors';
import type { MachineData } from '../input';
import { runInstancesRequest } from '../launch';
import { executionNameOf, requirePart, type StepContext, type StepDeps, sourceOf } from './deps';

/**
 * Launches a standalone replacement from the pinned version, in the old instance's subnet,
 * with the declared tags. A retry returns the instance the first attempt created (ClientToken).
 * EC2's refusals are told apart by their code: LaunchRejectedError when retrying cannot fix
 * it (the version is then quarantined), InsufficientCapacityError when EC2 has no room now;
 * throttling is transient (docs/adr/0012-launch-errors-by-code.md).
 */
export async function launchReplacement(
  deps: StepDeps,
  data: MachineData,
  ctx: StepContext,
): Promise<{ instanceId: string }> {
  const standalone = requirePart(data.plan?.standalone, 'a standalone plan', 'launchReplacement');
  const request = await runInstancesRequest(deps.ec2, {
    launchTemplate: { id: data.launchTemplate.id, version: data.launchTemplate.version },
    subnetId: standalone.subnetId,
    clientToken: standalone.clientToken,
    tagSpecifications: standalone.tagSpecifications,
    ...(standalone.networkInterfaces === true ? { networkInterfaces: true } : {}),
  });
  let launched: RunInstancesCommandOutput;
  try {
    launched = await deps.ec2.send(new RunInstancesCommand(request));
  } catch (error) {
    throw launchErrorOf(error, sourceOf(data), { direct: true }) ?? error;
  }
  const instanceId = launched.Instances?.[0]?.InstanceId;
  if (instanceId === undefined) {
    throw new ReplacementFailedError(
      `RunInstances from ${sourceOf(data)} returned no instance (execution ${executionNameOf(ctx.executionId)})`,
    );
  }
  return { instanceId };
}
