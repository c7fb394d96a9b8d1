/**
 * Synthesizes the DriftRemediator the way the infra tests need it, once per test file.
 *
 * Bundling (esbuild over both handlers) is the slow part; tests that only read the template
 * turn it off with CDK's own switch (`aws:cdk:bundling-stacks: []`), the few that read the
 * bundles keep it on.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CompiledDesiredState } from '../../../functions/domain/model';
import { loadDesiredStateFile } from '../../../functions/io/desired-state-file';
import { DriftRemediator, type DriftRemediatorProps } from '../../../infra/drift-remediator';

export const FIXTURES = path.join(import.meta.dirname, '..', 'fixtures');

let scratchRoot: string | undefined;

/** A fresh directory under one per-process root, removed when the test process exits. */
export function scratchDir(prefix: string): string {
  if (scratchRoot === undefined) {
    const root = mkdtempSync(path.join(tmpdir(), 'phoenix-infra-'));
    scratchRoot = root;
    process.once('exit', () => rmSync(root, { recursive: true, force: true }));
  }
  return mkdtempSync(path.join(scratchRoot, `${prefix}-`));
}
export const TEST_COMMIT = '0123456789abcdef0123456789abcdef01234567';

export interface Synthesized {
  app: App;
  stack: Stack;
  remediator: DriftRemediator;
  template: Template;
  json: TemplateJson;
  desiredState: CompiledDesiredState;
}

export interface TemplateJson {
  Resources: Record<string, CfnResourceJson>;
  Outputs?: Record<string, { Value: unknown; Description?: string }>;
}

export interface CfnResourceJson {
  Type: string;
  Properties?: Record<string, unknown>;
  DependsOn?: string | string[];
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  Metadata?: Record<string, unknown>;
}

export async function loadFixture(name: string): Promise<CompiledDesiredState> {
  return loadDesiredStateFile(path.join(FIXTURES, name), { commit: TEST_COMMIT });
}

export async function synthesize(
  options: {
    fixture?: string;
    bundle?: boolean;
    props?: Omit<Partial<DriftRemediatorProps>, 'desiredState'>;
  } = {},
): Promise<Synthesized> {
  const desiredState = await loadFixture(options.fixture ?? 'phoenix.yaml');
  const app = new App({
    outdir: scratchDir('cdk.out'),
    context: options.bundle === true ? {} : { 'aws:cdk:bundling-stacks': [] },
  });
  const stack = new Stack(app, 'PhoenixTest');
  const remediator = new DriftRemediator(stack, 'Phoenix', { ...options.props, desiredState });
  const template = Template.fromStack(stack);
  return { app, stack, remediator, template, json: template.toJSON() as TemplateJson, desiredState };
}

/** Resources of one type, by logical id. */
export function resourcesOfType(json: TemplateJson, type: string): Array<[string, CfnResourceJson]> {
  return Object.entries(json.Resources).filter(([, resource]) => resource.Type === type);
}

/** The logical id CloudFormation gives a construct's default resource. */
export function logicalIdOf(stack: Stack, construct: { node: { defaultChild?: unknown } }): string {
  const child = construct.node.defaultChild;
  if (child === undefined) throw new Error('construct has no default child');
  return stack.getLogicalId(child as Parameters<Stack['getLogicalId']>[0]);
}
