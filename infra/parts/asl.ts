/**
 * Reading the state machine definition at synth: which substitutions it expects and which
 * AWS calls its Task states make, so the construct can substitute exactly those and grant
 * exactly those (no more) to the state machine's role.
 */

import { readFileSync } from 'node:fs';
import { AslWiringError } from '../errors';

/** Every `${Name}` definition-substitution placeholder in the ASL text, sorted, once each. */
export function placeholdersOf(aslText: string): string[] {
  return [...new Set([...aslText.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1] ?? ''))].sort();
}

/** A Task state as the construct needs it. */
export interface TaskState {
  /** Path of the state: `Outer/Branch/State` for states nested in Parallel and Map. */
  path: string;
  resource: string;
  parameters: Record<string, unknown>;
}

interface StateLike {
  Type?: unknown;
  Resource?: unknown;
  Parameters?: unknown;
  Arguments?: unknown;
  Branches?: unknown;
  Iterator?: unknown;
  ItemProcessor?: unknown;
  States?: unknown;
}

/** Every Task state, including those inside Parallel branches and Map processors. */
export function taskStates(definition: unknown, prefix = ''): TaskState[] {
  const states = (definition as { States?: Record<string, StateLike> }).States;
  if (states === undefined || typeof states !== 'object') return [];
  const tasks: TaskState[] = [];
  for (const [name, state] of Object.entries(states)) {
    const path = prefix === '' ? name : `${prefix}/${name}`;
    if (state.Type === 'Task' && typeof state.Resource === 'string') {
      const parameters = (state.Parameters ?? state.Arguments ?? {}) as Record<string, unknown>;
      tasks.push({ path, resource: state.Resource, parameters });
    }
    if (Array.isArray(state.Branches)) {
      state.Branches.forEach((branch, i) => {
        tasks.push(...taskStates(branch, `${path}[${i}]`));
      });
    }
    for (const inner of [state.Iterator, state.ItemProcessor]) {
      if (inner !== undefined) tasks.push(...taskStates(inner, path));
    }
  }
  return tasks;
}

/** Step Functions' SDK-integration service names that differ from the IAM service prefix. */
const IAM_PREFIX: Record<string, string> = {
  elasticloadbalancingv2: 'elasticloadbalancing',
  sfn: 'states',
  configservice: 'config',
  cloudwatchlogs: 'logs',
};

/** What a Task resource needs from IAM. */
export type TaskPermission = { kind: 'invoke'; functionRef: string } | { kind: 'action'; action: string };

const AWS_SDK = /^arn:aws:states:::aws-sdk:([a-z0-9]+):([A-Za-z0-9]+)(\.[A-Za-z]+)?$/;
const OPTIMISED = /^arn:aws:states:::([a-z0-9]+):([A-Za-z0-9]+)(\.[A-Za-z]+)?$/;
const LAMBDA_ARN_OR_PLACEHOLDER = /^(arn:aws[a-z-]*:lambda:|\$\{)/;

/**
 * The permission one Task state needs: invoking a function (`lambda:invoke` or a function
 * ARN as the resource) or one IAM action (`aws-sdk:ec2:terminateInstances` →
 * `ec2:TerminateInstances`; optimised integrations such as `dynamodb:updateItem` likewise).
 */
export function permissionFor(task: TaskState): TaskPermission {
  const { resource } = task;
  if (
    resource === 'arn:aws:states:::lambda:invoke' ||
    resource.startsWith('arn:aws:states:::lambda:invoke.')
  ) {
    const name = task.parameters.FunctionName;
    if (typeof name !== 'string') {
      throw new AslWiringError(`${task.path}: lambda:invoke needs a literal Parameters.FunctionName`);
    }
    return { kind: 'invoke', functionRef: name };
  }
  if (LAMBDA_ARN_OR_PLACEHOLDER.test(resource)) return { kind: 'invoke', functionRef: resource };
  const match = AWS_SDK.exec(resource) ?? OPTIMISED.exec(resource);
  if (match === null) throw new AslWiringError(`${task.path}: unsupported Task resource ${resource}`);
  const service = match[1] ?? '';
  const action = match[2] ?? '';
  const prefix = IAM_PREFIX[service] ?? service;
  return { kind: 'action', action: `${prefix}:${action.charAt(0).toUpperCase()}${action.slice(1)}` };
}

/** The ASL file, parsed, with its raw text (placeholders are found in the text). */
export function readAsl(path: string): { text: string; definition: unknown } {
  const text = readFileSync(path, 'utf8');
  try {
    return { text, definition: JSON.parse(text) };
  } catch (error) {
    throw new AslWiringError(
      `${path} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
