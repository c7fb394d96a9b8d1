/**
 * AWS Config rule invocations: a configuration item changed (recorded as captured, then
 * acted on from current facts), an oversized item (read from Config's history), and the
 * periodic sweep (every instance of every fleet; with a ledger, only evaluations Config does
 * not already hold are reported).
 */
import { GetResourceConfigHistoryCommand } from '@aws-sdk/client-config-service';
import type { LedgerGeneration } from '../aws/compliance-ledger';
import { factsFromConfigItem } from '../aws/instance-facts';
import { describeInstances } from '../aws/inventory';
import { InvalidInputError } from '../domain/errors';
import type { InstanceFacts } from '../domain/model';
import { act, actAll, actOnCurrent, isActionable } from './act';
import { METRIC } from './deps';
import {
  type ComplianceRecord,
  EC2_INSTANCE_RESOURCE_TYPE,
  evaluationDigest,
  type RecordOptions,
  recordCompliance,
} from './evaluations';
import { type ConfigRuleContext, type DetectionEvent, isDeletedStatus } from './events';
import { errorText, goneInstance, type Invocation } from './invocation';
import { complianceOf } from './judge';

/** What the evaluator reads of a configuration item before handing it to `factsFromConfigItem`. */
export interface ItemEnvelope {
  resourceType: string;
  resourceId: string;
  configurationItemStatus: string;
  configurationItemCaptureTime: string | Date;
  [field: string]: unknown;
}

/** A rejected item, as `handleEvent` rejects a malformed event (logged whole, counted). */
export type RejectItem = (item: unknown, problem: string) => void;

export async function configItemChange(
  inv: Invocation,
  rule: ConfigRuleContext,
  item: ItemEnvelope,
  reject: RejectItem,
): Promise<void> {
  const ordering = new Date(item.configurationItemCaptureTime);
  const outOfScope = outOfScopeRecord(rule, item.resourceType, item.resourceId, item.configurationItemStatus);
  if (outOfScope !== undefined) {
    noteOutOfScope(inv, rule, item.resourceType, item.resourceId, outOfScope.annotation);
    await record(inv, rule, [{ ...outOfScope, orderingTimestamp: ordering }], true);
    return;
  }
  let facts: InstanceFacts;
  try {
    facts = factsFromConfigItem(item);
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    // The item is Config's, not ours to repair: count it and leave it to the sweep.
    reject(item, error.message);
    return;
  }
  const judgement = await inv.judgeCounted(facts);
  await record(inv, rule, [complianceOf(judgement, ordering)], true);
  if (isActionable(judgement)) {
    // Judged again from current facts before acting; counted once, as recorded.
    await actOnCurrent(inv, [facts.instanceId], { name: 'ConfigurationItemChangeNotification' }, false);
  }
}

export async function configOversized(
  inv: Invocation,
  event: Extract<DetectionEvent, { kind: 'config-oversized-item-change' }>,
  reject: RejectItem,
): Promise<void> {
  const { rule } = event;
  const outOfScope = outOfScopeRecord(rule, event.resourceType, event.resourceId, event.status);
  if (outOfScope !== undefined) {
    noteOutOfScope(inv, rule, event.resourceType, event.resourceId, outOfScope.annotation);
    await record(inv, rule, [{ ...outOfScope, orderingTimestamp: new Date(event.captureTime) }], true);
    return;
  }
  // The notification was too large to carry the item: read it from Config's history.
  const history = await inv.deps.config.send(
    new GetResourceConfigHistoryCommand({
      resourceType: EC2_INSTANCE_RESOURCE_TYPE,
      resourceId: event.resourceId,
      limit: 1,
    }),
  );
  const item = history.configurationItems?.[0];
  if (item === undefined) {
    inv.deps.logger.warn(
      'Oversized item not found in the configuration history; judging the instance as it is now',
      {
        instanceId: event.resourceId,
      },
    );
    const current = await describeInstances(inv.deps.ec2, [event.resourceId]);
    if (current.length === 0) {
      inv.decide(goneInstance(event.resourceId), {
        action: 'none',
        why: `instance ${event.resourceId} no longer exists`,
      });
    }
    const records: ComplianceRecord[] = [];
    for (const facts of current) {
      const judgement = await inv.judgeCounted(facts);
      records.push(complianceOf(judgement, new Date(event.captureTime)));
      if (isActionable(judgement))
        await act(inv, judgement, { name: 'OversizedConfigurationItemChangeNotification' });
    }
    await record(inv, rule, records, true);
    return;
  }
  await configItemChange(
    inv,
    rule,
    {
      ...item,
      resourceType: item.resourceType ?? event.resourceType,
      resourceId: item.resourceId ?? event.resourceId,
      configurationItemStatus: item.configurationItemStatus ?? event.status,
      configurationItemCaptureTime: item.configurationItemCaptureTime ?? event.captureTime,
    },
    reject,
  );
}

/** NOT_APPLICABLE for anything Phoenix does not judge: other types, out of scope, deleted. */
function outOfScopeRecord(
  rule: ConfigRuleContext,
  resourceType: string,
  resourceId: string,
  status: string,
): (Omit<ComplianceRecord, 'orderingTimestamp'> & { annotation: string }) | undefined {
  const base = { resourceId, resourceType };
  if (resourceType !== EC2_INSTANCE_RESOURCE_TYPE) {
    return { ...base, compliance: 'NOT_APPLICABLE', annotation: `${resourceType} is not an EC2 instance` };
  }
  if (rule.eventLeftScope) {
    return {
      ...base,
      compliance: 'NOT_APPLICABLE',
      annotation: `${resourceId} left the scope of the rule`,
    };
  }
  if (isDeletedStatus(status as Parameters<typeof isDeletedStatus>[0])) {
    return { ...base, compliance: 'NOT_APPLICABLE', annotation: `${resourceId} was deleted (${status})` };
  }
  return undefined;
}

/** An EC2 instance Phoenix does not judge (deleted, or out of the rule's scope) still gets its record. */
function noteOutOfScope(
  inv: Invocation,
  rule: ConfigRuleContext,
  resourceType: string,
  resourceId: string,
  why: string,
): void {
  if (resourceType !== EC2_INSTANCE_RESOURCE_TYPE) return;
  const subject = goneInstance(resourceId);
  inv.decide(rule.eventLeftScope ? { ...subject, verdict: 'outside' } : subject, { action: 'none', why });
}

/**
 * The periodic sweep: every instance of every declared fleet, judged from DescribeInstances.
 * With a ledger, only evaluations Config does not already hold are sent; the ledger is
 * written after Config accepted them, so a failed report is sent again next time.
 */
export async function sweep(inv: Invocation, rule: ConfigRuleContext, ordering: Date): Promise<void> {
  const instances = await inv.fleetInstances(inv.deps.desiredState.fleets);
  const judgements = await inv.judgeAll(instances);
  const records = judgements.map((j) => complianceOf(j, ordering));
  const ledger = inv.deps.ledger;
  if (ledger === undefined) {
    await record(inv, rule, records);
  } else {
    const reading = await ledger.read(generation(inv, rule));
    const digests = new Map(records.map((r) => [r.resourceId, evaluationDigest(r)]));
    const changed = records.filter((r) => reading.digestOf(r.resourceId) !== digests.get(r.resourceId));
    const unchanged = records.length - changed.length;
    inv.summary.evaluationsUnchanged += unchanged;
    inv.count(METRIC.evaluationsUnchanged, unchanged);
    await record(inv, rule, changed);
    try {
      await ledger.replace(reading, digests);
    } catch (error) {
      // The evaluations are recorded; a ledger that did not follow only repeats them next time.
      inv.deps.logger.warn('Could not write the compliance ledger; the next sweep reports these again', {
        error: errorText(error),
      });
    }
  }
  await actAll(inv, judgements.filter(isActionable), { name: 'ScheduledNotification' });
}

function generation(inv: Invocation, rule: ConfigRuleContext): LedgerGeneration {
  const generation: LedgerGeneration = {
    rule: rule.ruleArn ?? rule.ruleName,
    revision: inv.deps.desiredState.revision,
  };
  if (inv.deps.deploymentId !== undefined) generation.deployment = inv.deps.deploymentId;
  return generation;
}

/** Records evaluations of change notifications, and keeps the ledger in step with them. */
async function record(
  inv: Invocation,
  rule: ConfigRuleContext,
  records: ComplianceRecord[],
  noteInLedger = false,
): Promise<void> {
  const options: RecordOptions = {};
  if (inv.deps.sleep !== undefined) options.sleep = inv.deps.sleep;
  const result = await recordCompliance(inv.deps.config, rule.resultToken, records, options);
  inv.summary.evaluationsRecorded += result.recorded;
  if (result.recorded > 0) inv.count(METRIC.evaluationsRecorded, result.recorded);
  const ledger = inv.deps.ledger;
  if (!noteInLedger || ledger === undefined) return;
  for (const record of records) {
    try {
      await ledger.note(generation(inv, rule), record.resourceId, evaluationDigest(record));
    } catch (error) {
      inv.deps.logger.warn(
        'Could not note an evaluation in the compliance ledger; the next sweep may report it again',
        {
          instanceId: record.resourceId,
          error: errorText(error),
        },
      );
    }
  }
}
