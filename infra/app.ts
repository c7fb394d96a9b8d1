/**
 * The CDK app (`cdk.json` runs it): one stack holding the DriftRemediator, configured from
 * context (see settings.ts and docs/deploy.md), checked by cdk-nag's AwsSolutions and
 * Serverless packs. Synth needs no AWS credentials, no network and no Docker.
 *
 * A desired-state file that does not validate ends synth here, printing one
 * `file:line:col message` per problem and exiting non-zero.
 */
import { App, Stack, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { DesiredStateInvalidError } from '../functions/domain/desired-state/errors';
import { InvalidInputError } from '../functions/domain/errors';
import { loadDesiredStateFile } from '../functions/io/desired-state-file';
import { DriftRemediator } from './drift-remediator';
import { SettingsError } from './errors';
import { readSettings } from './settings';

async function main(): Promise<void> {
  // No auto-synth at exit: a failed load must leave no (empty) template behind for a deploy to pick up.
  const app = new App({ autoSynth: false });
  const settings = readSettings((key) => app.node.tryGetContext(key));
  const { desiredStatePath, commit, ...remediatorProps } = settings.remediator;
  const desiredState = await loadDesiredStateFile(desiredStatePath, commit === undefined ? {} : { commit });
  const env =
    settings.account === undefined && settings.region === undefined
      ? undefined
      : { account: settings.account, region: settings.region };
  const stack = new Stack(app, settings.stackName, {
    env,
    description: 'Phoenix: replaces EC2 instances that drift from what Git declares (phoenix.yaml)',
  });
  new DriftRemediator(stack, 'Phoenix', { ...remediatorProps, desiredState });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  app.synth();
}

try {
  await main();
} catch (error) {
  if (error instanceof DesiredStateInvalidError) {
    process.stderr.write(`phoenix.yaml is invalid; nothing was synthesized:\n${error.message}\n`);
  } else if (error instanceof SettingsError || error instanceof InvalidInputError) {
    process.stderr.write(`${error.message}\n`);
  } else {
    throw error;
  }
  process.exitCode = 1;
}
