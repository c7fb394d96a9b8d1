/**
 * `new DriftRemediator(this, 'Phoenix', { desiredStatePath: 'phoenix.yaml' })`: the construct
 * reads, validates and compiles the file itself, synchronously (a constructor cannot await),
 * and builds exactly what the compiled state would give it; a bad file or bad props stop
 * synth with one clear message. Bundling is off: the template is what is read here.
 */
import path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { DesiredStateInvalidError } from '../../functions/domain/desired-state/errors';
import { InvalidInputError } from '../../functions/domain/errors';
import { DriftRemediator, type DriftRemediatorProps } from '../../infra/drift-remediator';
import { FIXTURES, loadFixture, TEST_COMMIT } from './helpers/synth';

function build(props: DriftRemediatorProps): { remediator: DriftRemediator; template: Template } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'PhoenixPath');
  const remediator = new DriftRemediator(stack, 'Phoenix', props);
  return { remediator, template: Template.fromStack(stack) };
}

describe('DriftRemediator with desiredStatePath', () => {
  it('compiles the file at construction, the same state as compiling it first, its commit recorded', async () => {
    const file = path.join(FIXTURES, 'phoenix.yaml');
    const compiled = await loadFixture('phoenix.yaml');

    const { remediator, template } = build({ desiredStatePath: file, commit: TEST_COMMIT });

    expect(remediator.desiredState).toEqual(compiled);
    template.hasOutput('*', {
      Value: `${compiled.revision} (${compiled.provenance.path} @ ${TEST_COMMIT})`,
    });
    template.hasResourceProperties('Custom::PhoenixBaselineSweep', {
      DesiredStateSha256: compiled.provenance.sha256,
    });
  });

  it('stops with every file:line:col problem when the file is invalid, adding nothing to the stack', () => {
    const file = path.join(FIXTURES, 'invalid.yaml');
    const stack = new Stack(new App(), 'Invalid');
    const construct = () => new DriftRemediator(stack, 'Phoenix', { desiredStatePath: file });

    expect(construct).toThrow(DesiredStateInvalidError);
    expect(construct).toThrow(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:7:5 .*colour`));
    expect(stack.node.children).toEqual([]);
  });

  it('says so when the file cannot be read', () => {
    expect(() => build({ desiredStatePath: path.join(FIXTURES, 'missing.yaml') })).toThrow(
      /cannot read desired-state file .*missing\.yaml: no such file/,
    );
  });

  it('refuses both a path and a compiled state, and neither', async () => {
    const desiredState = await loadFixture('phoenix.yaml');
    const file = path.join(FIXTURES, 'phoenix.yaml');

    expect(() => build({ desiredState, desiredStatePath: file })).toThrow(InvalidInputError);
    expect(() => build({ desiredState, desiredStatePath: file })).toThrow(
      /either desiredState or desiredStatePath, not both/,
    );
    expect(() => build({})).toThrow(
      /give desiredStatePath \(the phoenix\.yaml to compile\) or a compiled desiredState/,
    );
  });
});
