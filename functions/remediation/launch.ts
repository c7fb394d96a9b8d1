/**
 * The RunInstances request of a standalone replacement: the pinned launch template version,
 * the old instance's subnet, the declared tags at launch, an idempotency token.
 *
 * Where the subnet goes depends on the template: RunInstances refuses an instance-level
 * `SubnetId` when network interfaces are specified (`InvalidParameterCombination`), and a
 * template's network interfaces count. With such a template the subnet goes into the primary
 * interface (device index 0), which otherwise keeps every setting the template gives it, and
 * the other interfaces are passed on as the template defines them.
 */
import {
  DescribeLaunchTemplateVersionsCommand,
  type EC2Client,
  type InstanceNetworkInterfaceSpecification,
  type LaunchTemplateInstanceNetworkInterfaceSpecification,
  type RunInstancesCommandInput,
} from '@aws-sdk/client-ec2';

/** What the plan decided about the launch (`plan.standalone`). */
export interface StandaloneLaunch {
  launchTemplate: { id: string; version: number };
  subnetId: string;
  clientToken: string;
  tagSpecifications: RunInstancesCommandInput['TagSpecifications'];
  /** The template defines network interfaces: the subnet goes into the primary one. */
  networkInterfaces?: boolean;
}

function isPrimary(ni: LaunchTemplateInstanceNetworkInterfaceSpecification): boolean {
  return (ni.DeviceIndex ?? 0) === 0 && (ni.NetworkCardIndex ?? 0) === 0;
}

/**
 * The template's network interfaces as RunInstances takes them, the primary one placed in
 * `subnetId`. The two shapes have the same fields; only the primary interface's subnet changes.
 */
export function interfacesIn(
  templateInterfaces: readonly LaunchTemplateInstanceNetworkInterfaceSpecification[],
  subnetId: string,
): InstanceNetworkInterfaceSpecification[] {
  const interfaces: InstanceNetworkInterfaceSpecification[] = templateInterfaces.map((ni) =>
    isPrimary(ni) ? { ...ni, DeviceIndex: 0, SubnetId: subnetId } : { ...ni },
  );
  if (!templateInterfaces.some(isPrimary)) interfaces.unshift({ DeviceIndex: 0, SubnetId: subnetId });
  return interfaces;
}

/** The RunInstances request; reads the template version only when it defines network interfaces. */
export async function runInstancesRequest(
  ec2: Pick<EC2Client, 'send'>,
  launch: StandaloneLaunch,
): Promise<RunInstancesCommandInput> {
  const request: RunInstancesCommandInput = {
    LaunchTemplate: {
      LaunchTemplateId: launch.launchTemplate.id,
      Version: String(launch.launchTemplate.version),
    },
    MinCount: 1,
    MaxCount: 1,
    ClientToken: launch.clientToken,
    TagSpecifications: launch.tagSpecifications,
  };
  if (launch.networkInterfaces !== true) {
    request.SubnetId = launch.subnetId;
    return request;
  }
  const described = await ec2.send(
    new DescribeLaunchTemplateVersionsCommand({
      LaunchTemplateId: launch.launchTemplate.id,
      Versions: [String(launch.launchTemplate.version)],
    }),
  );
  const templateInterfaces =
    described.LaunchTemplateVersions?.[0]?.LaunchTemplateData?.NetworkInterfaces ?? [];
  request.NetworkInterfaces = interfacesIn(templateInterfaces, launch.subnetId);
  return request;
}
