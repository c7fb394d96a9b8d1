/**
 * Reading a Lambda bundle's metafile: where its bytes come from (package by package, the
 * SDK apart), which SDK clients and operations it holds. The bundles themselves are built
 * by infra's `bundleLambda` (infra/parts/lambda-bundle.ts), the one function CDK deploys
 * with.
 */
import type { Metafile } from 'esbuild';

export type { BuiltBundle } from '../../infra/parts/lambda-bundle';

/** Where an input file comes from: `ours` for the repository's code, else its npm package. */
export function packageOf(inputPath: string): string {
  const marker = 'node_modules/';
  const at = inputPath.lastIndexOf(marker);
  if (at === -1) return 'ours';
  const rest = inputPath.slice(at + marker.length).split('/');
  const [first = '', second = ''] = rest;
  return first.startsWith('@') ? `${first}/${second}` : first;
}

/**
 * Whether a package is part of the AWS SDK as Lambda would otherwise provide it: the
 * clients and their runtime (`@aws-sdk/*`, `@smithy/*`, `@aws-crypto/*`) and the few
 * helpers they depend on.
 */
export function isSdkPackage(name: string): boolean {
  return (
    name.startsWith('@aws-sdk/') ||
    name.startsWith('@smithy/') ||
    name.startsWith('@aws-crypto/') ||
    SDK_HELPERS.has(name)
  );
}

/** npm packages the SDK v3 clients themselves pull in. */
const SDK_HELPERS: ReadonlySet<string> = new Set([
  'tslib',
  'fast-xml-parser',
  'strnum',
  'uuid',
  'bowser',
  '@aws/lambda-invoke-store',
]);

export interface PackageWeight {
  name: string;
  /** Bytes this package contributes to the minified output. */
  bytes: number;
  sdk: boolean;
}

/**
 * The input files that contributed code to the bundle, with their bytes. The metafile's
 * top-level `inputs` also lists every file esbuild visited and then tree-shook away (a
 * client package's index names all of its commands); the output's own inputs do not.
 */
export function contributedInputs(metafile: Metafile): Array<{ path: string; bytes: number }> {
  const contributed: Array<{ path: string; bytes: number }> = [];
  for (const [file, output] of Object.entries(metafile.outputs)) {
    if (file.endsWith('.map')) continue;
    for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) {
      if (bytesInOutput > 0) contributed.push({ path, bytes: bytesInOutput });
    }
  }
  return contributed;
}

/** Bytes in the output per package (from the metafile), heaviest first. */
export function weightsByPackage(metafile: Metafile): PackageWeight[] {
  const totals = new Map<string, number>();
  for (const { path, bytes } of contributedInputs(metafile)) {
    const name = packageOf(path);
    totals.set(name, (totals.get(name) ?? 0) + bytes);
  }
  return [...totals.entries()]
    .map(([name, bytes]) => ({ name, bytes, sdk: isSdkPackage(name) }))
    .sort((a, b) => b.bytes - a.bytes || a.name.localeCompare(b.name));
}

/** The SDK v3 client packages a bundle holds (`@aws-sdk/client-ec2`, …), sorted. */
export function sdkClientPackages(metafile: Metafile): string[] {
  const names = new Set<string>();
  for (const { path } of contributedInputs(metafile)) {
    const name = packageOf(path);
    if (/^@aws-sdk\/client-/.test(name)) names.add(name);
  }
  return [...names].sort();
}

/**
 * The SDK exports a bundle uses beyond the client classes: every command (and paginator or
 * waiter) module of a client package that made it into the bundle, as `{ pkg, name }`.
 * esbuild keeps a command module only when the code references it, so this is the set of
 * operations the code can call.
 */
export function sdkOperationExports(metafile: Metafile): Array<{ pkg: string; name: string }> {
  const found = new Map<string, { pkg: string; name: string }>();
  for (const { path } of contributedInputs(metafile)) {
    const pkg = packageOf(path);
    if (!/^@aws-sdk\/client-/.test(pkg)) continue;
    const match = /\/dist-es\/(?:commands|pagination|waiters)\/([A-Za-z0-9]+)\.js$/.exec(path);
    const name = match?.[1];
    if (name === undefined || /^(index|Interfaces)$/.test(name)) continue;
    found.set(`${pkg}:${name}`, { pkg, name });
  }
  return [...found.values()].sort((a, b) => a.pkg.localeCompare(b.pkg) || a.name.localeCompare(b.name));
}

/** Import specifiers that load classic zod (schema classes with every method, and JSON Schema). */
const CLASSIC_ZOD = /^zod(?:\/v4(?:\/classic)?|\/v3)?$/;

/**
 * The files of ours that import classic zod, sorted. One is enough to bring about 65 KiB more
 * of zod into the bundle than `zod/mini` needs, whatever else uses `zod/mini`.
 */
export function classicZodImporters(metafile: Metafile): string[] {
  const importers = new Set<string>();
  for (const [path, input] of Object.entries(metafile.inputs)) {
    if (packageOf(path) !== 'ours') continue;
    if (input.imports.some((i) => i.original !== undefined && CLASSIC_ZOD.test(i.original))) {
      importers.add(path);
    }
  }
  return [...importers].sort();
}
