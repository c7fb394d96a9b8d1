/**
 * Lambda bundles built exactly as CDK's NodejsFunction builds Phoenix's functions
 * (infra/parts/functions.ts): the same esbuild flags CDK passes on its command line, through
 * esbuild's JS API, with a metafile.
 *
 * CDK runs `esbuild --bundle ENTRY --target=node24 --platform=node --format=esm
 * --outfile=index.mjs --minify --sourcemap --sources-content=false --define:… --metafile=…
 * --banner:js=… --main-fields=module,main` from the project root, with no `--external`
 * (the SDK is bundled) and esbuild's own tsconfig discovery.
 */
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type BuildOptions, build, type Metafile, type Plugin } from 'esbuild';
import type { CompiledDesiredState } from '../../functions/domain/model';
import { desiredStateDefine, ESM_REQUIRE_BANNER, PROJECT_ROOT } from '../../infra/parts/functions';

/** A built bundle: its file, its size and what went into it. */
export interface BuiltBundle {
  /** Absolute path of `index.mjs`. */
  file: string;
  /** Bytes of `index.mjs` (the code Lambda loads; the source map is read only on an error). */
  bytes: number;
  metafile: Metafile;
}

/** The esbuild options CDK derives from Phoenix's `bundling` props, for one entry. */
export function cdkEquivalentOptions(options: {
  entry: string;
  outdir: string;
  define: Record<string, string>;
}): BuildOptions {
  return {
    absWorkingDir: PROJECT_ROOT,
    entryPoints: [options.entry],
    bundle: true,
    target: 'node24',
    platform: 'node',
    format: 'esm',
    outfile: join(options.outdir, 'index.mjs'),
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    external: [],
    define: options.define,
    metafile: true,
    banner: { js: ESM_REQUIRE_BANNER },
    mainFields: ['module', 'main'],
    logLevel: 'warning',
  };
}

/**
 * Builds `entry` (relative to the project root, or absolute) into `outdir` as CDK would.
 * `plugins` are for experiments only: CDK runs esbuild's command line, which takes none.
 */
export async function buildLikeCdk(options: {
  entry: string;
  outdir: string;
  desiredState: CompiledDesiredState;
  plugins?: Plugin[];
}): Promise<BuiltBundle> {
  await mkdir(options.outdir, { recursive: true });
  const buildOptions = cdkEquivalentOptions({
    entry: options.entry,
    outdir: options.outdir,
    define: desiredStateDefine(options.desiredState),
  });
  if (options.plugins !== undefined) buildOptions.plugins = options.plugins;
  const result = await build(buildOptions);
  const { metafile } = result;
  if (metafile === undefined) throw new Error(`esbuild wrote no metafile for ${options.entry}`);
  const file = join(options.outdir, 'index.mjs');
  await writeFile(join(options.outdir, 'index.meta.json'), JSON.stringify(metafile));
  return { file, bytes: (await stat(file)).size, metafile };
}

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

/** An SDK client's (or nested client's) generated schema module. */
const SCHEMA_MODULE =
  /[\\/]@aws-sdk[\\/][^\\/]+[\\/]dist-es[\\/](?:submodules[\\/][^\\/]+[\\/])?schemas[\\/]schemas_\d+\.js$/;

/**
 * Rewrites the computed keys of an SDK schema module (`{ [_xN]: "Min" }`, where
 * `const _xN = "xmlName"`) as the literal keys they stand for (`{ "xmlName": "Min" }`).
 * Same objects at run time; the difference is that esbuild cannot prove a computed key
 * free of side effects, so it keeps every shape that has one and everything those shapes
 * reference: with them, the EC2 client's whole model (3,400 shapes) is bundled and
 * evaluated at cold start whatever operations the code calls.
 */
export function resolveSchemaKeys(source: string): string {
  const constants = new Map<string, string>();
  for (const match of source.matchAll(/^const (_[A-Za-z0-9_]+) = ("(?:[^"\\]|\\.)*");$/gm)) {
    const [, name, literal] = match;
    if (name !== undefined && literal !== undefined) constants.set(name, literal);
  }
  return source.replace(/\[(_[A-Za-z0-9_]+)\]:/g, (whole, name: string) => {
    const literal = constants.get(name);
    return literal === undefined ? whole : `${literal}:`;
  });
}

/** The esbuild plugin applying {@link resolveSchemaKeys} to every SDK schema module. */
export const resolveSchemaKeysPlugin: Plugin = {
  name: 'phoenix-resolve-sdk-schema-keys',
  setup(pluginBuild) {
    pluginBuild.onLoad({ filter: SCHEMA_MODULE }, async (args) => ({
      contents: resolveSchemaKeys(await readFile(args.path, 'utf8')),
      loader: 'js',
    }));
  },
};
