/**
 * Target group lookups for a replacement: where an instance is registered, how long its
 * target groups drain, and whether it is healthy in each.
 */
import {
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  type DescribeTargetGroupsCommandOutput,
  DescribeTargetHealthCommand,
  type ElasticLoadBalancingV2Client,
  type TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Target } from './input';

type Elbv2 = Pick<ElasticLoadBalancingV2Client, 'send'>;

/** ELBv2's default when a target group does not say (AWS documents 300 s). */
export const DEFAULT_DEREGISTRATION_DELAY_SECONDS = 300;

/** States in which a target is on its way out or not there at all. */
const NOT_SERVING: ReadonlySet<string> = new Set(['draining', 'unused']);

/** Every instance target group of the VPC (paginated). */
async function instanceTargetGroups(elbv2: Elbv2, vpcId: string): Promise<string[]> {
  const arns: string[] = [];
  let marker: string | undefined;
  do {
    const page: DescribeTargetGroupsCommandOutput = await elbv2.send(
      new DescribeTargetGroupsCommand({ Marker: marker, PageSize: 400 }),
    );
    for (const group of page.TargetGroups ?? []) {
      if (
        group.VpcId === vpcId &&
        group.TargetType !== 'ip' &&
        group.TargetType !== 'lambda' &&
        group.TargetGroupArn
      ) {
        arns.push(group.TargetGroupArn);
      }
    }
    marker = page.NextMarker;
  } while (marker !== undefined && marker !== '');
  return arns;
}

async function healthOf(elbv2: Elbv2, targetGroupArn: string): Promise<TargetHealthDescription[]> {
  const described = await elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }));
  return described.TargetHealthDescriptions ?? [];
}

/**
 * Where `instanceId` is registered and serving: each target group of its VPC and the port.
 * Target groups are enumerated rather than taken from the Auto Scaling group, because a
 * standalone instance (or an ASG member registered by hand) is served from wherever someone
 * put it, and draining must find every one.
 */
export async function registrationsOf(
  elbv2: Elbv2,
  instanceId: string,
  vpcId: string | undefined,
): Promise<Target[]> {
  if (vpcId === undefined) return [];
  const targets: Target[] = [];
  for (const arn of await instanceTargetGroups(elbv2, vpcId)) {
    for (const description of await healthOf(elbv2, arn)) {
      const state = description.TargetHealth?.State ?? 'unknown';
      if (description.Target?.Id === instanceId && !NOT_SERVING.has(state)) {
        const port = description.Target.Port;
        if (port !== undefined) targets.push({ targetGroupArn: arn, port });
      }
    }
  }
  return targets;
}

/** The longest deregistration delay among the target groups, in seconds (0 for none). */
export async function longestDeregistrationDelay(
  elbv2: Elbv2,
  targetGroupArns: readonly string[],
): Promise<number> {
  let longest = 0;
  for (const arn of new Set(targetGroupArns)) {
    const described = await elbv2.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: arn }));
    const value = described.Attributes?.find((a) => a.Key === 'deregistration_delay.timeout_seconds')?.Value;
    const seconds = value === undefined ? DEFAULT_DEREGISTRATION_DELAY_SECONDS : Number(value);
    if (Number.isFinite(seconds)) longest = Math.max(longest, seconds);
  }
  return longest;
}

/** The target's health state in one group (`healthy`, `initial`, `unhealthy`, …), or `unregistered`. */
export async function targetState(elbv2: Elbv2, targetGroupArn: string, instanceId: string): Promise<string> {
  const mine = (await healthOf(elbv2, targetGroupArn)).filter((d) => d.Target?.Id === instanceId);
  if (mine.length === 0) return 'unregistered';
  // Registered on several ports: healthy only when healthy on every one.
  const states = mine.map((d) => d.TargetHealth?.State ?? 'unknown');
  return states.every((s) => s === 'healthy')
    ? 'healthy'
    : (states.find((s) => s !== 'healthy') ?? 'unknown');
}
