import type { Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { constructedClientPackages, lambdaNodeArgs } from '../../bench/cold-start';
import {
  classicZodImporters,
  contributedInputs,
  isSdkPackage,
  packageOf,
  sdkClientPackages,
  sdkOperationExports,
  weightsByPackage,
} from '../../bench/lib/bundle';

describe('packageOf', () => {
  it.each([
    { path: 'functions/aws/clients.ts', pkg: 'ours' },
    { path: 'node_modules/zod/v4/core/schemas.js', pkg: 'zod' },
    { path: 'node_modules/@aws-sdk/client-ec2/dist-es/EC2Client.js', pkg: '@aws-sdk/client-ec2' },
    {
      path: 'node_modules/@aws-sdk/credential-provider-node/node_modules/@smithy/core/dist-es/index.js',
      pkg: '@smithy/core',
    },
  ])('attributes $path to $pkg', ({ path, pkg }) => {
    expect(packageOf(path)).toBe(pkg);
  });
});

describe('isSdkPackage', () => {
  it.each(['@aws-sdk/client-sqs', '@smithy/core', '@aws-crypto/crc32', 'fast-xml-parser', 'tslib'])(
    'counts %s as the SDK',
    (name) => {
      expect(isSdkPackage(name)).toBe(true);
    },
  );

  it.each(['ours', 'zod', '@aws-lambda-powertools/logger', '@middy/core'])('counts %s as ours', (name) => {
    expect(isSdkPackage(name)).toBe(false);
  });
});

const METAFILE = {
  inputs: {},
  outputs: {
    'out/index.mjs.map': { bytes: 10, inputs: {}, imports: [], exports: [] },
    'out/index.mjs': {
      bytes: 1000,
      imports: [],
      exports: ['handler'],
      inputs: {
        'functions/a.ts': { bytesInOutput: 100 },
        'functions/b.ts': { bytesInOutput: 50 },
        'node_modules/zod/index.js': { bytesInOutput: 300 },
        'node_modules/@aws-sdk/client-ec2/dist-es/EC2Client.js': { bytesInOutput: 400 },
        'node_modules/@aws-sdk/client-ec2/dist-es/commands/DescribeInstancesCommand.js': {
          bytesInOutput: 60,
        },
        'node_modules/@aws-sdk/client-ec2/dist-es/commands/index.js': { bytesInOutput: 5 },
        'node_modules/@aws-sdk/client-ec2/dist-es/pagination/DescribeInstancesPaginator.js': {
          bytesInOutput: 20,
        },
        'node_modules/@aws-sdk/client-sqs/dist-es/commands/SendMessageCommand.js': { bytesInOutput: 0 },
        'node_modules/@aws-sdk/nested-clients/dist-es/submodules/sts/commands/AssumeRoleCommand.js': {
          bytesInOutput: 70,
        },
      },
    },
  },
} as unknown as Metafile;

describe('reading a metafile', () => {
  it('counts only inputs that put code into the bundle, never the source map', () => {
    expect(contributedInputs(METAFILE).map((i) => i.path)).not.toContain(
      'node_modules/@aws-sdk/client-sqs/dist-es/commands/SendMessageCommand.js',
    );
    expect(contributedInputs(METAFILE)).toHaveLength(8);
  });

  it('weighs packages, heaviest first, marking the SDK', () => {
    expect(weightsByPackage(METAFILE)).toEqual([
      { name: '@aws-sdk/client-ec2', bytes: 485, sdk: true },
      { name: 'zod', bytes: 300, sdk: false },
      { name: 'ours', bytes: 150, sdk: false },
      { name: '@aws-sdk/nested-clients', bytes: 70, sdk: true },
    ]);
  });

  it('lists the client packages and the operations the bundle kept', () => {
    expect(sdkClientPackages(METAFILE)).toEqual(['@aws-sdk/client-ec2']);
    expect(sdkOperationExports(METAFILE)).toEqual([
      { pkg: '@aws-sdk/client-ec2', name: 'DescribeInstancesCommand' },
      { pkg: '@aws-sdk/client-ec2', name: 'DescribeInstancesPaginator' },
    ]);
  });
});

describe('classicZodImporters', () => {
  const input = (...originals: string[]) => ({
    bytes: 1,
    imports: originals.map((original) => ({
      path: 'node_modules/zod/x.js',
      kind: 'import-statement',
      original,
    })),
  });

  it('names the files of ours that import classic zod, however they spell it, and no others', () => {
    const metafile = {
      inputs: {
        'functions/a.ts': input('zod'),
        'functions/b.ts': input('zod/mini'),
        'functions/c.ts': input('zod/v4'),
        'functions/d.ts': input('zod/v4/core', './b'),
        'node_modules/some-lib/index.js': input('zod'),
      },
      outputs: {},
    } as unknown as Metafile;

    expect(classicZodImporters(metafile)).toEqual(['functions/a.ts', 'functions/c.ts']);
  });
});

describe('constructedClientPackages', () => {
  it('reads the clients a handler takes from makeClients', () => {
    const source =
      'const deps = { ec2: clients.ec2, store: new StateStore(clients.dynamodb, t), again: clients.ec2 };';
    expect(constructedClientPackages(source)).toEqual(['@aws-sdk/client-dynamodb', '@aws-sdk/client-ec2']);
  });

  it('refuses a client makeClients does not offer', () => {
    expect(() => constructedClientPackages('clients.s3')).toThrow(/clients\.s3/);
  });
});

describe('lambdaNodeArgs', () => {
  it('gives V8 the heap Lambda gives a function of that memory', () => {
    expect(lambdaNodeArgs(512)).toEqual([
      '--expose-gc',
      '--max-http-header-size=81920',
      '--max-semi-space-size=25',
      '--max-old-space-size=461',
    ]);
  });
});
