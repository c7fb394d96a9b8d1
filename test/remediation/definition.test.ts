import { readFileSync } from 'node:fs';
import { StateMachine } from 'aws-local-stepfunctions';
import { describe, expect, it } from 'vitest';
import { localStepsFunctionArn } from '../../functions/local/step-functions/arns';
import { substitutedDefinition } from '../../functions/local/step-functions/definition';
import { SERVICE_ERROR_PREFIXES } from '../../functions/local/step-functions/tasks';
import { REMEDIATION_ERRORS } from '../../functions/remediation/errors';

const RAW = readFileSync(
  new URL('../../state-machines/remediate-instance.asl.json', import.meta.url),
  'utf8',
);

interface State {
  Type: string;
  Resource?: string;
  Retry?: Array<{ ErrorEquals: string[]; BackoffRate?: number; MaxAttempts?: number }>;
  Catch?: Array<{ ErrorEquals: string[]; Next: string }>;
  Next?: string;
  Default?: string;
  Choices?: Array<{ Next: string }>;
  End?: boolean;
  ItemProcessor?: { StartAt: string; States: Record<string, State> };
  Error?: string;
  ErrorPath?: string;
  Cause?: string;
  CausePath?: string;
}
const DEFINITION = JSON.parse(RAW) as { StartAt: string; States: Record<string, State> };

function allStates(states: Record<string, State> = DEFINITION.States): Array<[string, State]> {
  return Object.entries(states).flatMap(([name, state]) => [
    [name, state] as [string, State],
    ...(state.ItemProcessor ? allStates(state.ItemProcessor.States) : []),
  ]);
}

/** Errors the Lambda runtime and Step Functions report for a Lambda task (direct ARN form). */
const LAMBDA_ERRORS = new Set([
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.ClientExecutionTimeoutException',
]);
const STATES_ERRORS = new Set([
  'States.ALL',
  'States.TaskFailed',
  'States.Timeout',
  'States.HeartbeatTimeout',
]);
const SERVICE_ERROR = new RegExp(`^(${SERVICE_ERROR_PREFIXES.join('|')})\\.[A-Z][A-Za-z0-9]*Exception$`);

describe('state-machines/remediate-instance.asl.json', () => {
  it('names in every ErrorEquals an exported error class, a States.* error or a service error', () => {
    const exported = new Set(Object.values(REMEDIATION_ERRORS).map((E) => new E('probe').name));
    const unknown: string[] = [];
    for (const [name, state] of allStates()) {
      for (const clause of [...(state.Retry ?? []), ...(state.Catch ?? [])]) {
        for (const error of clause.ErrorEquals) {
          const known =
            exported.has(error) ||
            STATES_ERRORS.has(error) ||
            LAMBDA_ERRORS.has(error) ||
            SERVICE_ERROR.test(error);
          if (!known) unknown.push(`${name}: ${error}`);
        }
      }
    }
    expect(unknown).toEqual([]);
    // And the class names are what the classes call themselves.
    for (const [key, E] of Object.entries(REMEDIATION_ERRORS)) expect(new E('probe').name).toBe(key);
  });

  it('uses only the three definition substitutions', () => {
    const used = [...new Set([...RAW.matchAll(/\$\{([^}]*)\}/g)].map((m) => m[1]))];
    const allowed = ['StepsFunctionArn', 'TableName', 'TopicArn'];
    expect(used.filter((name) => !allowed.includes(name ?? ''))).toEqual([]);
    expect(used.sort()).toEqual(['StepsFunctionArn', 'TableName']);
    expect(() =>
      substitutedDefinition({ StepsFunctionArn: 'x', TableName: 't', TopicArn: 'a' }),
    ).not.toThrow();
  });

  it('retries every Task with exponential backoff and catches every top-level Task', () => {
    for (const [name, state] of allStates()) {
      if (state.Type !== 'Task') continue;
      expect(state.Retry?.length, `${name} retries`).toBeGreaterThan(0);
      for (const retrier of state.Retry ?? []) {
        if (retrier.ErrorEquals.includes('States.Timeout')) continue;
        // A lapsed heartbeat parks the waiter again at once, in the same place: nothing to back off from.
        if (retrier.ErrorEquals.includes('States.HeartbeatTimeout')) continue;
        expect(retrier.BackoffRate ?? 2, `${name} backs off`).toBeGreaterThanOrEqual(2);
      }
    }
    for (const [name, state] of Object.entries(DEFINITION.States)) {
      if (state.Type === 'Task' || state.Type === 'Map')
        expect(state.Catch?.length, `${name} catches`).toBeGreaterThan(0);
    }
  });

  it('says why at every end: each Fail names its error and cause, each Succeed follows a step that reports the outcome', () => {
    const fails = Object.entries(DEFINITION.States).filter(([, s]) => s.Type === 'Fail');
    for (const [name, state] of fails) {
      expect(state.Error ?? state.ErrorPath, `${name} error`).toBeDefined();
      expect(state.Cause ?? state.CausePath, `${name} cause`).toBeDefined();
    }
    const intoDone = Object.entries(DEFINITION.States)
      .filter(([, s]) => s.Next === 'Done')
      .map(([n]) => n);
    expect(intoDone.sort()).toEqual(
      [
        'BlockedUnreported',
        'ManualActionUnreported',
        'ReportBlocked',
        'ReportManualActionRequired',
        'ReportSkipped',
        'ReportSucceeded',
        'SkippedUnreported',
        'SucceededUnreported',
      ].sort(),
    );
  });

  it('has no unreachable state and no dangling transition', () => {
    const states = DEFINITION.States;
    const reached = new Set<string>();
    const visit = (name: string) => {
      if (reached.has(name)) return;
      const state = states[name];
      expect(state, `transition to ${name}`).toBeDefined();
      reached.add(name);
      const next = [
        state?.Next,
        state?.Default,
        ...(state?.Choices ?? []).map((c) => c.Next),
        ...(state?.Catch ?? []).map((c) => c.Next),
      ];
      for (const n of next) if (n !== undefined) visit(n);
    };
    visit(DEFINITION.StartAt);
    expect(Object.keys(states).filter((n) => !reached.has(n))).toEqual([]);
  });

  it('is a valid definition for the interpreter once substituted', () => {
    const definition = substitutedDefinition({
      StepsFunctionArn: localStepsFunctionArn(),
      TableName: 'phoenix-state',
      TopicArn: 'arn:aws:sns:us-east-1:123456789012:phoenix',
    });
    expect(
      () => new StateMachine(definition, { validationOptions: { checkPaths: true, checkArn: true } }),
    ).not.toThrow();
  });
});
