/**
 * The remediation definition as a local run sees it: substituted as CloudFormation substitutes
 * it, and read for what the runner must supply (a handler per Task state, the Wait states to
 * make instant, the retry pauses).
 */
import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import definitionJson from '../../../state-machines/remediate-instance.asl.json' with { type: 'json' };
import { LocalRunnerError } from '../errors';

/** The definition with its three substitutions applied; throws if any `${…}` is left. */
export function substitutedDefinition(values: {
  StepsFunctionArn: string;
  TableName: string;
  TopicArn: string;
}): StateMachineDefinition {
  let text = JSON.stringify(definitionJson);
  for (const [name, value] of Object.entries(values)) text = text.replaceAll(`\${${name}}`, value);
  const left = text.match(/\$\{[A-Za-z]+\}/);
  if (left !== null)
    throw new LocalRunnerError(`the state machine definition uses an unknown substitution ${left[0]}`);
  return JSON.parse(text) as StateMachineDefinition;
}

type StatesObject = Record<
  string,
  { Type: string; Resource?: string; Retry?: Array<{ ErrorEquals?: string[] }> } & Record<string, unknown>
>;

/**
 * With instant waits, the pause of a retry that waits for ANOTHER execution's turn on an
 * Auto Scaling group (`GroupBusyError`): long enough for the holder, running in the same
 * process, to make progress before the waiter spends its attempts; short enough for tests.
 */
const TURN_PAUSE_MS = 25;

/** Every state of the definition, nested ones (Map, Parallel) included. */
function walkStates(states: StatesObject, visit: (name: string, state: StatesObject[string]) => void): void {
  for (const [name, state] of Object.entries(states)) {
    visit(name, state);
    const processor = (state.ItemProcessor ?? state.Iterator) as { States?: StatesObject } | undefined;
    if (processor?.States !== undefined) walkStates(processor.States, visit);
    for (const branch of (state.Branches as { States?: StatesObject }[] | undefined) ?? []) {
      if (branch.States !== undefined) walkStates(branch.States, visit);
    }
  }
}

/** What a run must supply for a definition. */
export interface DefinitionShape {
  /** Every Task state and its resource. */
  tasks: Map<string, string>;
  /** Every Wait state (instant when waits are zero). */
  waitStates: string[];
  /** Per state with retriers, the pause of each retrier when waits are zero. */
  zeroRetries: Record<string, number[]>;
}

/** Reads the Task, Wait and retrying states of a (substituted) definition. */
export function shapeOf(definition: StateMachineDefinition): DefinitionShape {
  const tasks = new Map<string, string>();
  const waitStates: string[] = [];
  const zeroRetries: Record<string, number[]> = {};
  walkStates(definition.States as unknown as StatesObject, (stateName, state) => {
    if (state.Type === 'Task') tasks.set(stateName, state.Resource ?? '');
    if (state.Type === 'Wait') waitStates.push(stateName);
    if (Array.isArray(state.Retry)) {
      zeroRetries[stateName] = state.Retry.map((retrier) =>
        retrier.ErrorEquals?.includes('GroupBusyError') === true ? TURN_PAUSE_MS : 0,
      );
    }
  });
  return { tasks, waitStates, zeroRetries };
}

/** The states worth showing as progress: the ones that do or wait for something. */
export const VISIBLE_STATES: ReadonlySet<string> = (() => {
  const names = new Set<string>();
  walkStates(definitionJson.States as unknown as StatesObject, (name, state) => {
    if (state.Type === 'Task' || state.Type === 'Wait' || state.Type === 'Map') names.add(name);
  });
  return names;
})();
