/**
 * What a recorded local run would cost in AWS Step Functions terms: the execution history
 * events a Standard workflow writes for the same path (its history is capped at 25,000
 * events, and every event is a transition-priced step of work).
 *
 * From the Step Functions history event types: an execution starts and ends (2); every
 * state entered writes `…StateEntered` and, unless it ends the execution, `…StateExited`;
 * a Task attempt adds scheduled, started and succeeded/failed (3) (a Lambda task:
 * `LambdaFunctionScheduled/Started/Succeeded`; an SDK integration: `TaskScheduled/Started/
 * Succeeded`); a Map adds `MapStateStarted` and `MapStateSucceeded`, and each iteration
 * `MapIterationStarted` and `MapIterationSucceeded`.
 */

/** The recorded events this needs (the local runner's RunEvent has these fields). */
export interface RecordedEvent {
  type: string;
  state?: string;
  index?: number;
}

/** State name → ASL `Type`, nested states included. */
export type StateTypes = ReadonlyMap<string, string>;

interface AslState {
  Type?: string;
  Iterator?: { States?: Record<string, AslState> };
  ItemProcessor?: { States?: Record<string, AslState> };
  Branches?: Array<{ States?: Record<string, AslState> }>;
}

/** The type of every state in a definition, descending into Map and Parallel states. */
export function stateTypesOf(definition: { States: Record<string, unknown> }): Map<string, string> {
  const types = new Map<string, string>();
  const walk = (states: Record<string, AslState> | undefined) => {
    for (const [name, state] of Object.entries(states ?? {})) {
      types.set(name, state.Type ?? 'Unknown');
      walk(state.Iterator?.States);
      walk(state.ItemProcessor?.States);
      for (const branch of state.Branches ?? []) walk(branch.States);
    }
  };
  walk(definition.States as Record<string, AslState>);
  return types;
}

const TERMINAL_TYPES: ReadonlySet<string> = new Set(['Succeed', 'Fail']);

/** The history events AWS would write for the recorded path. */
export function historyEventsOf(events: readonly RecordedEvent[], types: StateTypes): number {
  let count = 0;
  // One set of iteration indices per Map state entered; inner events carry their index.
  const iterations: Set<number>[] = [];
  for (const event of events) {
    switch (event.type) {
      case 'ExecutionStarted':
      case 'ExecutionSucceeded':
      case 'ExecutionFailed':
        count += 1;
        break;
      case 'StateEntered': {
        const type = types.get(event.state ?? '') ?? 'Unknown';
        count += TERMINAL_TYPES.has(type) ? 1 : 2;
        if (type === 'Task') count += 3;
        if (type === 'Map') {
          count += 2;
          iterations.push(new Set<number>());
        }
        if (event.index !== undefined) iterations[iterations.length - 1]?.add(event.index);
        break;
      }
      case 'StateRetried':
        // Each retry schedules, starts and ends the task again.
        count += 3;
        break;
      default:
        break;
    }
  }
  for (const seen of iterations) count += 2 * seen.size;
  return count;
}
