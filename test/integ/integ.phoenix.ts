/**
 * Entry point of the real-account test for `@aws-cdk/integ-runner` (`npm run test:aws`):
 * deploys the estate and Phoenix to the account the AWS credentials name, drifts an
 * instance of each fleet, asserts what only AWS can prove, then destroys everything. Never run
 * by CI. See docs/aws-truth.md.
 */
import { App } from 'aws-cdk-lib';
import { phoenixInteg } from './phoenix-integ';

const app = new App();
phoenixInteg(app, { createConfigRecorder: process.env.PHOENIX_INTEG_CONFIG_RECORDER !== 'false' });
app.synth();
