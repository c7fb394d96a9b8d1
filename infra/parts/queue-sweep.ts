/**
 * The fleet queue's sweep (docs/adr/0032-a-queue-not-a-poll.md): every few minutes an
 * EventBridge schedule invokes the remediation steps function with a constant event. It
 * heartbeats parked executions, sends again a grant whose granter died before sending it,
 * forgets waiters whose execution is gone, and admits every fleet's waiters (a rollout's bake
 * that ended, a slot freed by a lease that ran out). Waiting itself costs nothing: this is
 * the only periodic work, one invocation whatever the number of waiters.
 */
import { Duration } from 'aws-cdk-lib';
import { Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { QUEUE_SWEEP_EVENT, QUEUE_SWEEP_MINUTES } from '../../functions/remediation/sweep-event';

export interface QueueSweepProps {
  /** The remediation steps function (its live alias). */
  readonly steps: IFunction;
  /** Where EventBridge puts a sweep it could not deliver. */
  readonly deliveryFailures: IQueue;
}

export class QueueSweep extends Construct {
  readonly rule: Rule;

  constructor(scope: Construct, id: string, props: QueueSweepProps) {
    super(scope, id);
    this.rule = new Rule(this, 'Schedule', {
      description: `Phoenix fleet queue sweep every ${QUEUE_SWEEP_MINUTES} minutes: heartbeats, lost grants, admissions`,
      schedule: Schedule.rate(Duration.minutes(QUEUE_SWEEP_MINUTES)),
      targets: [
        new LambdaFunction(props.steps, {
          event: RuleTargetInput.fromObject(QUEUE_SWEEP_EVENT),
          deadLetterQueue: props.deliveryFailures,
          retryAttempts: 2,
          // A sweep older than the next one is worth nothing.
          maxEventAge: Duration.minutes(QUEUE_SWEEP_MINUTES),
        }),
      ],
    });
  }
}
