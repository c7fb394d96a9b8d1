/**
 * The organization example's CDK app (`npx cdk deploy --all` from examples/organization, in
 * the delegated administrator account): see organization.ts and docs/organization.md.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { DesiredStateInvalidError } from '../../functions/domain/desired-state/errors';
import { buildOrganization, OrganizationConfigError } from './organization';

async function main(): Promise<void> {
  const app = new App({ autoSynth: false });
  const commit = app.node.tryGetContext('phoenix:commit') as string | undefined;
  await buildOrganization(app, import.meta.dirname, commit === undefined ? {} : { commit });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  app.synth();
}

try {
  await main();
} catch (error) {
  if (error instanceof DesiredStateInvalidError || error instanceof OrganizationConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 1;
  } else {
    throw error;
  }
}
