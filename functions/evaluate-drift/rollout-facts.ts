/**
 * The gate's rollout fact at detection (issue 15): read lazily, once per fleet and invocation,
 * only for a fleet with rollout stages or alarms (a fleet without them costs no CloudWatch
 * call). Alarms in ALARM hold every instance of the fleet; a member of a rollout that waits
 * for a human or another fleet (halted, awaiting approval, waiting for its promotion) is held
 * too. Waits that end by themselves (the canary in flight, the bake) start the execution,
 * which waits at the lease. When the alarms cannot be read now the fact is absent: the
 * execution starts and its lease, which never proceeds without them, decides.
 */
import { AlarmsUnavailableError, AlarmsUnreadableError } from '../aws/alarms';
import { type RolloutView, readRolloutView } from '../aws/rollout-view';
import type { RolloutFact } from '../domain/gate/facts';
import type { CompiledFleet, InstanceFacts, LaunchTemplateFacts } from '../domain/model';
import { buildNotification } from '../domain/notification';
import { governsRollout, isRolloutMember } from '../domain/rollout/membership';
import { ROLLOUT_STAGE_EVENT, rolloutMessage, stageLogFields } from '../domain/rollout/messages';
import { firstStage, haltText, type RolloutStage } from '../domain/rollout/stage';
import type { DetectionDeps, RolloutReaders } from './deps';

const HUMAN_BOUND: ReadonlySet<RolloutStage> = new Set(['halted', 'awaiting-approval', 'waiting']);

const views = new WeakMap<object, Map<string, Promise<RolloutView | undefined>>>();

/** The fleet's view, read once per `scope` (an invocation); undefined when its alarms cannot be read now. */
function viewOnce(
  scope: object,
  deps: DetectionDeps,
  readers: RolloutReaders,
  fleet: CompiledFleet,
  template: LaunchTemplateFacts,
): Promise<RolloutView | undefined> {
  let byFleet = views.get(scope);
  if (byFleet === undefined) {
    byFleet = new Map();
    views.set(scope, byFleet);
  }
  const key = `${fleet.name}#${template.id}#${template.version}`;
  let view = byFleet.get(key);
  if (view === undefined) {
    const source = { templateId: template.id, version: template.version };
    view = readRolloutView(
      { ...readers, ec2: deps.ec2, fleets: deps.desiredState.fleets, now: deps.clock() },
      fleet,
      template.imageId === undefined ? source : { ...source, imageId: template.imageId },
    )
      .then((read) => moveOn(deps, readers, fleet, read))
      .catch((error: unknown) => {
        if (error instanceof AlarmsUnavailableError || error instanceof AlarmsUnreadableError)
          return undefined;
        throw error;
      });
    byFleet.set(key, view);
  }
  return view;
}

/**
 * Writes the stage the view decided when it changed (conditional on the stage and counters
 * read: of several processes, one write lands), so a rollout moves with time and alarms even
 * while no member runs: a bake ends, an alarm in ALARM halts it (its version quarantined in
 * the same transaction). The winner tells the team and logs the stage. Another process having
 * moved it first, the view is read again once.
 */
async function moveOn(
  deps: DetectionDeps,
  readers: RolloutReaders,
  fleet: CompiledFleet,
  view: RolloutView,
): Promise<RolloutView> {
  const { rollout, step } = view;
  if (rollout === undefined || step === undefined || !step.changed) return view;
  const written = await readers.rollouts.recordStep(rollout, step, { exact: true });
  if (!written.written) {
    return readRolloutView(
      { ...readers, ec2: deps.ec2, fleets: deps.desiredState.fleets, now: deps.clock() },
      fleet,
      view.source,
    );
  }
  const now = written.rollout;
  deps.logger.info(ROLLOUT_STAGE_EVENT, stageLogFields(now));
  const event =
    step.halted !== undefined ? 'rollout.halted' : step.completed === true ? 'rollout.completed' : undefined;
  if (event !== undefined) {
    const summary = {
      source: { ...now.source },
      stage: now.stage,
      members: now.members,
      replaced: now.replaced,
      failed: now.rolledBack,
      ...(step.halted === undefined ? {} : { halt: haltText(step.halted) }),
    };
    try {
      await deps.notifier.publish(
        buildNotification({
          event,
          fleet: fleet.name,
          team: fleet.team,
          instanceId: 'none',
          reasons: [],
          desiredState: { revision: deps.desiredState.revision, commit: deps.desiredState.provenance.commit },
          message: rolloutMessage(event, now, summary),
          rollout: summary,
        }),
      );
    } catch (error) {
      deps.logger.warn('Rollout notification not sent', { fleet: fleet.name, error });
    }
  }
  return { ...view, rollout: now, step: { ...step, rollout: now, changed: false } };
}

/** The rollout fact of `instance`, or undefined when the fleet has no rollout stages or alarms. */
export async function rolloutFactOf(
  scope: object,
  deps: DetectionDeps,
  fleet: CompiledFleet,
  template: LaunchTemplateFacts | undefined,
  instance: InstanceFacts,
): Promise<RolloutFact | undefined> {
  const readers = deps.rolloutReaders;
  if (readers === undefined || template === undefined || !governsRollout(fleet.rollout)) return undefined;
  const view = await viewOnce(scope, deps, readers, fleet, template);
  if (view === undefined) return undefined;
  const fact: RolloutFact = { fleet: fleet.name, firing: view.firing };
  if (!isRolloutMember(instance, view.source)) return fact;
  if (view.rollout === undefined) {
    // Not begun: it would begin waiting for its promotion.
    if (firstStage(fleet.rollout, view.promotion) === 'waiting' && view.promotion?.ready === false)
      fact.waiting = { stage: 'waiting', why: view.promotion.why };
    return fact;
  }
  const stage = view.step?.rollout.stage ?? view.rollout.stage;
  if (HUMAN_BOUND.has(stage)) fact.waiting = { stage, why: view.step?.waitsFor ?? `the rollout is ${stage}` };
  return fact;
}
