/**
 * Phoenix's Lambda functions, built one way: Node.js 24 on arm64, the AWS SDK bundled
 * (no surprise from the runtime's SDK version) and trimmed, minified ESM with source maps,
 * traced, logging to an explicit log group with retention, and the compiled desired state
 * inlined into the bundle by esbuild (lambda-bundle.ts, through CDK's local bundling: no
 * Docker). Each bundle is published as a version behind a `live` alias, so every revision
 * of the desired state is an immutable Lambda version.
 */
import { AssetHashType, DockerImage, Duration, type RemovalPolicy } from 'aws-cdk-lib';
import { type IRole, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import {
  Alias,
  Architecture,
  type CfnFunction,
  Code,
  Function as LambdaFunction,
  Runtime,
  Tracing,
} from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { CompiledDesiredState } from '../../functions/domain/model';
import { METRIC_NAMESPACE } from '../../functions/runtime/metric-names';
import { desiredStateDefine, PhoenixLocalBundling, PROJECT_ROOT } from './lambda-bundle';
import { acknowledge } from './nag';

export { DesiredStateTooLargeError } from '../errors';
export { desiredStateDefine, ESM_REQUIRE_BANNER, PROJECT_ROOT } from './lambda-bundle';

/**
 * Never pulled: local bundling always answers (or fails synth with esbuild's messages), so
 * CDK's Docker fallback is never taken. CDK requires an image all the same.
 */
const NO_DOCKER_FALLBACK = DockerImage.fromRegistry('phoenix-bundles-locally-never-in-docker');

export interface PhoenixFunctionProps {
  /** Entry file relative to the repository root, e.g. `functions/evaluate-drift/handler.ts`. */
  entry: string;
  /** `POWERTOOLS_SERVICE_NAME`, also the metrics `service` dimension. */
  serviceName: string;
  /** What the function does, for the console. The desired-state revision is appended. */
  purpose: string;
  desiredState: CompiledDesiredState;
  environment: Record<string, string>;
  memorySize: number;
  timeout: Duration;
  logRetention: RetentionDays;
  removalPolicy: RemovalPolicy;
  logLevel: string;
  /**
   * Where asynchronous invocations that exhaust their retries go (Lambda DLQ and the alias's
   * on-failure destination). Omit for functions only ever invoked synchronously.
   */
  asyncFailureQueue?: IQueue;
  /** Why there is no asyncFailureQueue (required when there is none: it becomes the cdk-nag acknowledgement). */
  synchronousOnlyReason?: string;
}

/** One Phoenix Lambda: function, role, log group and the `live` alias every caller invokes. */
export class PhoenixFunction extends Construct {
  readonly function: LambdaFunction;
  /** Invoke this, never the function: it points at the version built from this desired state. */
  readonly live: Alias;
  readonly role: IRole;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: PhoenixFunctionProps) {
    super(scope, id);
    const { desiredState } = props;

    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });

    // An own role, so it holds only what Phoenix grants (no AWSLambdaBasicExecutionRole: logs go to one group).
    const role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `${props.purpose} (Phoenix)`,
    });
    this.role = role;
    this.logGroup.grantWrite(role);

    this.function = new LambdaFunction(this, 'Function', {
      code: Code.fromAsset(PROJECT_ROOT, {
        // The bundle's own hash: a new desired state or new code is a new asset and version.
        assetHashType: AssetHashType.OUTPUT,
        bundling: {
          image: NO_DOCKER_FALLBACK,
          local: new PhoenixLocalBundling({ entry: props.entry, define: desiredStateDefine(desiredState) }),
        },
      }),
      handler: 'index.handler',
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      role,
      logGroup: this.logGroup,
      tracing: Tracing.ACTIVE,
      description:
        `${props.purpose}. Desired state ${desiredState.revision} (${desiredState.provenance.path} @ ${desiredState.provenance.commit})`.slice(
          0,
          256,
        ),
      deadLetterQueue: props.asyncFailureQueue,
      environment: {
        ...props.environment,
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: METRIC_NAMESPACE,
        LOG_LEVEL: props.logLevel,
        PHOENIX_DESIRED_STATE_REVISION: desiredState.revision,
      },
    });

    // The bundle's asset key changes with every new bundle (code or desired state): the
    // evaluator's compliance ledger starts afresh after each deploy of new code.
    const code = (this.function.node.defaultChild as CfnFunction).code as CfnFunction.CodeProperty;
    if (code.s3Key !== undefined) this.function.addEnvironment('PHOENIX_DEPLOYMENT_ID', code.s3Key);

    this.live = new Alias(this, 'Live', {
      aliasName: 'live',
      version: this.function.currentVersion,
      description: `desired state ${desiredState.revision}`,
      ...(props.asyncFailureQueue === undefined
        ? {}
        : {
            onFailure: new SqsDestination(props.asyncFailureQueue),
            retryAttempts: 2,
            maxEventAge: Duration.hours(6),
          }),
    });

    if (props.asyncFailureQueue === undefined) {
      if (props.synchronousOnlyReason === undefined) {
        throw new Error(`${this.node.path}: a function without an async failure queue must say why`);
      }
      acknowledge(this.function, 'Serverless-LambdaDLQ', props.synchronousOnlyReason);
    }
    acknowledge(
      role,
      'AwsSolutions-IAM5[Resource::*]',
      'X-Ray trace segments and telemetry (active tracing) have no resource-level permissions; any other ' +
        '"*" on this role is an AWS action without resource-level permissions, listed in its own statement.',
    );
  }
}
