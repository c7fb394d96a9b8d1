import { describe, expect, it } from 'vitest';
import { historyEventsOf, stateTypesOf } from '../../bench/lib/history';

const DEFINITION = {
  States: {
    Check: { Type: 'Task' },
    Decide: { Type: 'Choice' },
    Drain: { Type: 'Map', ItemProcessor: { States: { Deregister: { Type: 'Task' } } } },
    Wait: { Type: 'Wait' },
    Done: { Type: 'Succeed' },
  },
};

describe('stateTypesOf', () => {
  it('names every state with its type, nested ones included', () => {
    expect(Object.fromEntries(stateTypesOf(DEFINITION))).toEqual({
      Check: 'Task',
      Decide: 'Choice',
      Drain: 'Map',
      Deregister: 'Task',
      Wait: 'Wait',
      Done: 'Succeed',
    });
  });
});

describe('historyEventsOf', () => {
  const types = stateTypesOf(DEFINITION);
  const entered = (state: string, index?: number) =>
    index === undefined ? { type: 'StateEntered', state } : { type: 'StateEntered', state, index };

  it('counts what Step Functions writes for each kind of state', () => {
    const events = [
      { type: 'ExecutionStarted' },
      entered('Check'), // entered, exited, scheduled, started, succeeded: 5
      entered('Decide'), // 2
      entered('Drain'), // 2 + MapStateStarted/Succeeded: 4
      entered('Deregister', 0), // 5, and iteration 0 started/succeeded: 2
      entered('Deregister', 1), // 5, and iteration 1: 2
      entered('Wait'), // 2
      entered('Done'), // entered only: 1
      { type: 'ExecutionSucceeded' },
    ];
    expect(historyEventsOf(events, types)).toBe(1 + 5 + 2 + 4 + 7 + 7 + 2 + 1 + 1);
  });

  it('adds a task attempt for each retry', () => {
    const once = [entered('Check')];
    const retried = [entered('Check'), { type: 'StateRetried', state: 'Check' }];
    expect(historyEventsOf(retried, types) - historyEventsOf(once, types)).toBe(3);
  });

  it('ignores events that write no history of their own', () => {
    expect(historyEventsOf([{ type: 'StateExited', state: 'Check' }, { type: 'Other' }], types)).toBe(0);
  });
});
