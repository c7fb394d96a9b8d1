/**
 * For accounts where AWS Config is not yet recording: a recorder limited to EC2 instances
 * and a delivery channel to an encrypted, private bucket. Opt-in (an account has at most
 * one recorder per region, and most organisations already run one).
 */
import { Aws, Duration, RemovalPolicy } from 'aws-cdk-lib';
import { CfnConfigurationRecorder, CfnDeliveryChannel } from 'aws-cdk-lib/aws-config';
import { ManagedPolicy, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Construct, type IDependable } from 'constructs';
import { acknowledge, allow } from './nag';

export class ConfigRecorder extends Construct {
  readonly recorder: CfnConfigurationRecorder;
  readonly deliveryChannel: CfnDeliveryChannel;
  readonly bucket: Bucket;
  /** What a Config rule must wait for. */
  readonly ready: IDependable[];

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.bucket = new Bucket(this, 'Bucket', {
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(365) }],
      // Always kept: CloudFormation cannot delete a bucket Config has written to, and the
      // configuration history outlives the stack (it expires by the lifecycle rule).
      removalPolicy: RemovalPolicy.RETAIN,
    });
    acknowledge(
      this.bucket,
      'AwsSolutions-S1',
      'Only AWS Config writes to this bucket (configuration snapshots and history); server access logs ' +
        'would need a second bucket for a record CloudTrail already keeps.',
    );
    const config = new ServicePrincipal('config.amazonaws.com');
    const sameAccount = { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } };
    this.bucket.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AWSConfigBucketPermissionsCheck',
        principals: [config],
        actions: ['s3:GetBucketAcl', 's3:ListBucket'],
        resources: [this.bucket.bucketArn],
        conditions: sameAccount,
      }),
    );
    this.bucket.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AWSConfigBucketDelivery',
        principals: [config],
        actions: ['s3:PutObject'],
        resources: [this.bucket.arnForObjects(`AWSLogs/${Aws.ACCOUNT_ID}/Config/*`)],
        conditions: sameAccount,
      }),
    );

    const role = new Role(this, 'Role', {
      assumedBy: config,
      description: 'AWS Config recorder created by Phoenix',
      managedPolicies: [ManagedPolicy.fromAwsManagedPolicyName('service-role/AWS_ConfigRole')],
    });
    // Delivering to a bucket of its own account, Config writes as this role, not as its service
    // principal (https://docs.aws.amazon.com/config/latest/developerguide/s3-bucket-policy.html),
    // and AWS_ConfigRole grants no S3 write: the role needs the delivery permissions itself
    // (https://docs.aws.amazon.com/config/latest/developerguide/iamrole-permissions.html).
    allow(role, {
      actions: ['s3:PutObject', 's3:PutObjectAcl'],
      resources: [this.bucket.arnForObjects(`AWSLogs/${Aws.ACCOUNT_ID}/Config/*`)],
      conditions: { StringEquals: { 's3:x-amz-acl': 'bucket-owner-full-control' } },
      wildcardReason:
        'Config names its history and snapshot objects by date and id under AWSLogs/<account>/Config/; ' +
        'the grant is limited to that prefix of the bucket it delivers to.',
    });
    allow(role, { actions: ['s3:GetBucketAcl', 's3:ListBucket'], resources: [this.bucket.bucketArn] });
    acknowledge(
      role,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWS_ConfigRole]',
      'AWS_ConfigRole is the policy AWS maintains for the Config recorder: it follows every resource type ' +
        'Config can describe, which a hand-written policy would lag behind.',
    );

    this.recorder = new CfnConfigurationRecorder(this, 'Recorder', {
      roleArn: role.roleArn,
      recordingGroup: {
        allSupported: false,
        includeGlobalResourceTypes: false,
        resourceTypes: ['AWS::EC2::Instance'],
        recordingStrategy: { useOnly: 'INCLUSION_BY_RESOURCE_TYPES' },
      },
    });
    this.deliveryChannel = new CfnDeliveryChannel(this, 'DeliveryChannel', {
      s3BucketName: this.bucket.bucketName,
      configSnapshotDeliveryProperties: { deliveryFrequency: 'TwentyFour_Hours' },
    });
    this.deliveryChannel.node.addDependency(this.recorder);
    this.deliveryChannel.node.addDependency(this.bucket);
    this.ready = [this.recorder, this.deliveryChannel];
  }
}
