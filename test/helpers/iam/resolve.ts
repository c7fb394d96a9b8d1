/**
 * CloudFormation intrinsics in a synthesized policy, resolved to the strings they would be in
 * one account, so an IAM evaluator can read the policy as IAM would.
 *
 * `Ref` and `Fn::GetAtt` of the stack's own resources become ARNs of the right shape for
 * their resource type (a table's ARN, a topic's ARN, a bucket's name…) named after the
 * logical id, unless the caller says what a reference really is in its account (the test's
 * own table and topic). Pseudo parameters become the account, region and partition given.
 */

/** The account the emulator and the infra tests resolve policies for (moto's default account). */
export const ACCOUNT = '123456789012';
export const PARTITION = 'aws';

export interface ResolveOptions {
  region: string;
  /** Logical id → CloudFormation type, for the shape of each ARN. */
  types: Readonly<Record<string, string>>;
  /** What `Ref X` is, where the caller knows better. */
  refs?: Readonly<Record<string, string>>;
  /** What `Fn::GetAtt [X, Attr]` is (`X.Attr`), where the caller knows better. */
  attributes?: Readonly<Record<string, string>>;
  /** Literal replacements in every resolved string (e.g. a state machine's deployed name → its local name). */
  replace?: ReadonlyArray<readonly [string, string]>;
}

/** The ARN a resource of `type` named `id` would have. */
function arnOf(type: string, id: string, region: string): string {
  const regional = (service: string, resource: string) =>
    `arn:${PARTITION}:${service}:${region}:${ACCOUNT}:${resource}`;
  switch (type) {
    case 'AWS::DynamoDB::Table':
      return regional('dynamodb', `table/${id}`);
    case 'AWS::SNS::Topic':
      return regional('sns', id);
    case 'AWS::SQS::Queue':
      return regional('sqs', id);
    case 'AWS::KMS::Key':
      return regional('kms', `key/${id}`);
    case 'AWS::Lambda::Function':
      return regional('lambda', `function:${id}`);
    case 'AWS::Lambda::Alias':
      return regional('lambda', `function:${id}:live`);
    case 'AWS::StepFunctions::StateMachine':
      return regional('states', `stateMachine:${id}`);
    case 'AWS::Logs::LogGroup':
      return regional('logs', `log-group:${id}:*`);
    case 'AWS::Config::ConfigRule':
      return regional('config', `config-rule/${id}`);
    case 'AWS::S3::Bucket':
      return `arn:${PARTITION}:s3:::${id.toLowerCase()}`;
    case 'AWS::IAM::Role':
      return `arn:${PARTITION}:iam::${ACCOUNT}:role/${id}`;
    default:
      return regional('cloudformation', `resource/${id}`);
  }
}

/** What `Ref` of a resource of `type` returns: an ARN for ARN-referenced types, else its name. */
function refOf(type: string, id: string, region: string): string {
  switch (type) {
    case 'AWS::SNS::Topic':
    case 'AWS::Lambda::Alias':
    case 'AWS::StepFunctions::StateMachine':
      return arnOf(type, id, region);
    case 'AWS::S3::Bucket':
      return id.toLowerCase();
    default:
      return id;
  }
}

/** A resolver for `options`: any JSON in, the same JSON with every intrinsic resolved out. */
export function cfnResolver(options: ResolveOptions): (node: unknown) => unknown {
  const { region, types } = options;
  const pseudo: Record<string, string> = {
    'AWS::Partition': PARTITION,
    'AWS::Region': region,
    'AWS::AccountId': ACCOUNT,
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': 'Phoenix',
  };
  const ref = (name: string): string =>
    options.refs?.[name] ??
    pseudo[name] ??
    (types[name] === undefined ? name : refOf(types[name], name, region));
  const attribute = (id: string, name: string): string => {
    const known = options.attributes?.[`${id}.${name}`];
    if (known !== undefined) return known;
    const type = types[id] ?? '';
    if (name === 'Arn' || name.endsWith('Arn')) return arnOf(type, id, region);
    return `${id}-${name}`;
  };
  const finish = (text: string): string =>
    (options.replace ?? []).reduce((acc, [from, to]) => acc.replaceAll(from, to), text);
  const text = (value: unknown): string => {
    const resolved = resolve(value);
    return typeof resolved === 'string' ? resolved : JSON.stringify(resolved);
  };
  const resolve = (node: unknown): unknown => {
    if (typeof node === 'string') return finish(node);
    if (Array.isArray(node)) return node.map(resolve);
    if (node === null || typeof node !== 'object') return node;
    const record = node as Record<string, unknown>;
    const keys = Object.keys(record);
    if (keys.length === 1) {
      const [key = ''] = keys;
      const value = record[key];
      if (key === 'Ref') return finish(ref(String(value)));
      if (key === 'Fn::GetAtt' && Array.isArray(value))
        return finish(attribute(String(value[0]), String(value[1])));
      if (key === 'Fn::Join' && Array.isArray(value)) {
        const [delimiter, parts] = value as [string, unknown[]];
        return finish(parts.map(text).join(delimiter));
      }
      if (key === 'Fn::Sub') {
        const [template, variables] = (Array.isArray(value) ? value : [value, {}]) as [
          string,
          Record<string, unknown>,
        ];
        return finish(
          template.replace(/\$\{([^}]+)\}/g, (_whole, name: string) => {
            if (name in variables) return text(variables[name]);
            const [id = '', attr] = name.split('.');
            return attr === undefined ? ref(id) : attribute(id, attr);
          }),
        );
      }
      if (key === 'Fn::Select' && Array.isArray(value)) {
        const list = resolve(value[1]);
        return Array.isArray(list) ? list[Number(value[0])] : text(list);
      }
      if (key === 'Fn::Split' && Array.isArray(value)) return text(value[1]).split(String(value[0]));
    }
    return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, resolve(v)]));
  };
  return resolve;
}
