/**
 * How a Phoenix Lambda bundle is built: one function, {@link bundleLambda}, used by CDK at
 * synth (through {@link bundleLambdaSync}, CDK's local bundling being synchronous), by the
 * cold-start benchmark and by the bundle smoke test, so the bundle measured and invoked is
 * the bundle deployed.
 *
 * esbuild's JS API, not CDK's `NodejsFunction` (which runs esbuild's command line): two
 * plugins trim the AWS SDK, which esbuild alone cannot (ADR 15):
 *
 * - {@link resolveSdkSchemaKeysPlugin}: the SDK's schema modules write trait keys as
 *   computed properties, which esbuild must keep with everything they reference; written as
 *   the literals they stand for, the shapes Phoenix never calls are dropped (the EC2 model
 *   alone is 549 KiB).
 * - {@link environmentCredentialsOnlyPlugin}: in Lambda the execution role's credentials are
 *   in the environment, so of the SDK's default provider chain only the environment link
 *   ever runs; the links it loads lazily after that one (SSO, INI, process, web identity,
 *   container, instance metadata, with the STS and SSO clients they carry) are replaced by
 *   a link that says why it is not there.
 * - {@link sdkPackageVersionOnlyPlugin}: each client imports its whole package.json (scripts,
 *   dependencies, description: about 2 KiB a client) for one field, `version`, which it puts
 *   in its user agent; a default import keeps every field, so the bundle gets the version only.
 */

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ILocalBundling } from 'aws-cdk-lib';
import { type BuildOptions, build, type Metafile, type Plugin } from 'esbuild';
import type { CompiledDesiredState } from '../../functions/domain/model';
import { DESIRED_STATE_GLOBAL } from '../../functions/runtime/desired-state';
import { DesiredStateTooLargeError, LambdaBundleError } from '../errors';

/** The nearest directory above `moduleUrl` holding a package.json, with a trailing separator. */
function packageRootOf(moduleUrl: string): string {
  let dir = dirname(fileURLToPath(moduleUrl));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return `${dir}${sep}`;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(moduleUrl)}`);
    dir = parent;
  }
}

/**
 * The root of Phoenix's sources (the repository, or the installed package, whose compiled
 * code runs from `dist/`): Lambda entries, the state machine definition and tsconfig.json
 * are resolved from here, wherever the app runs.
 */
export const PROJECT_ROOT = packageRootOf(import.meta.url);

/** Lambda's limit on one command-line argument (MAX_ARG_STRLEN) bounds the inlined JSON; stay well below. */
const MAX_INLINED_STATE_BYTES = 100_000;

/** Makes ESM bundles able to `require` the CommonJS dependencies esbuild leaves as `require` calls. */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __phoenixCreateRequire } from 'node:module'; const require = __phoenixCreateRequire(import.meta.url);";

/** esbuild `define` value that inlines the compiled desired state (see functions/runtime/desired-state.ts). */
export function desiredStateDefine(state: CompiledDesiredState): Record<string, string> {
  const json = JSON.stringify(state);
  if (Buffer.byteLength(json) > MAX_INLINED_STATE_BYTES) {
    throw new DesiredStateTooLargeError(
      `the compiled desired state is ${Buffer.byteLength(json)} bytes; at most ${MAX_INLINED_STATE_BYTES} can be inlined into a bundle`,
    );
  }
  return { [DESIRED_STATE_GLOBAL]: json };
}

// ---- the SDK's schema keys ----------------------------------------------------------------

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
export const resolveSdkSchemaKeysPlugin: Plugin = {
  name: 'phoenix-resolve-sdk-schema-keys',
  setup(pluginBuild) {
    pluginBuild.onLoad({ filter: SCHEMA_MODULE }, async (args) => ({
      contents: resolveSchemaKeys(await readFile(args.path, 'utf8')),
      loader: 'js',
    }));
  },
};

// ---- the SDK's credential chain -----------------------------------------------------------

/**
 * The packages the SDK's default credential chain (`@aws-sdk/credential-provider-node`)
 * imports lazily, each only once the links before it found nothing, and what the chain
 * reads from each.
 */
export const LAZY_CREDENTIAL_LINKS: Readonly<Record<string, readonly string[]>> = {
  '@aws-sdk/credential-provider-sso': ['fromSSO'],
  '@aws-sdk/credential-provider-ini': ['fromIni'],
  '@aws-sdk/credential-provider-process': ['fromProcess'],
  '@aws-sdk/credential-provider-web-identity': ['fromTokenFile'],
  '@aws-sdk/credential-provider-http': ['fromHttp'],
  '@smithy/credential-provider-imds': ['fromContainerMetadata', 'fromInstanceMetadata'],
};

/** Where the chain's lazily loaded links come from. */
const CREDENTIAL_CHAIN_MODULE = /[\\/]@aws-sdk[\\/]credential-provider-node[\\/]/;
const STUB_NAMESPACE = 'phoenix-environment-credentials-only';

/** What a replaced link says, should the chain ever get that far. */
export const NOT_BUNDLED_CREDENTIALS =
  'is not in this Phoenix Lambda bundle: it reads the execution role credentials Lambda puts in ' +
  'AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, and found none';

/** The module standing in for one lazily loaded link of the chain. */
function credentialLinkStub(pkg: string): string {
  const exports = LAZY_CREDENTIAL_LINKS[pkg] ?? [];
  const lines = [
    "import { CredentialsProviderError } from '@smithy/core/config';",
    'const notBundled = (name) => () => async () => {',
    `  throw new CredentialsProviderError(\`\${name} (${pkg}) ${NOT_BUNDLED_CREDENTIALS}\`, { tryNextLink: false });`,
    '};',
    ...exports.map((name) => `export const ${name} = notBundled('${name}');`),
  ];
  if (pkg === '@smithy/credential-provider-imds') {
    // remoteProvider reads these two names before choosing a link.
    lines.push(
      "export const ENV_CMDS_FULL_URI = 'AWS_CONTAINER_CREDENTIALS_FULL_URI';",
      "export const ENV_CMDS_RELATIVE_URI = 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI';",
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The esbuild plugin replacing the default credential chain's lazily imported links (only
 * those dynamic imports, only from the chain itself) with {@link credentialLinkStub}.
 */
export const environmentCredentialsOnlyPlugin: Plugin = {
  name: 'phoenix-environment-credentials-only',
  setup(pluginBuild) {
    const names = Object.keys(LAZY_CREDENTIAL_LINKS).map((n) => n.replace(/[/.-]/g, '\\$&'));
    pluginBuild.onResolve({ filter: new RegExp(`^(?:${names.join('|')})$`) }, (args) => {
      if (args.kind !== 'dynamic-import' || !CREDENTIAL_CHAIN_MODULE.test(args.importer)) return undefined;
      return { path: args.path, namespace: STUB_NAMESPACE, pluginData: { resolveDir: args.resolveDir } };
    });
    pluginBuild.onLoad({ filter: /.*/, namespace: STUB_NAMESPACE }, (args) => ({
      contents: credentialLinkStub(args.path),
      loader: 'js',
      // Resolve @smithy/core from where the chain itself would.
      resolveDir: (args.pluginData as { resolveDir: string }).resolveDir,
    }));
  },
};

/** An SDK package's own package.json, as its runtime config imports it (`../package.json`). */
const SDK_PACKAGE_JSON = /[\\/]node_modules[\\/]@aws-sdk[\\/][^\\/]+[\\/]package\.json$/;

/**
 * Gives an AWS SDK package's package.json as its version only: the one field its code reads
 * (`packageInfo.version`, for the user agent). test/infra/lambda-bundle.test.ts reads the
 * installed SDK's code for any other field, so an upgrade that reads one fails there first.
 */
export const sdkPackageVersionOnlyPlugin: Plugin = {
  name: 'phoenix-sdk-package-version-only',
  setup(pluginBuild) {
    pluginBuild.onLoad({ filter: SDK_PACKAGE_JSON }, async (args) => {
      const { version } = JSON.parse(await readFile(args.path, 'utf8')) as { version?: unknown };
      if (typeof version !== 'string') throw new LambdaBundleError(`${args.path} has no version`);
      return { contents: JSON.stringify({ version }), loader: 'json' };
    });
  },
};

// ---- the one way to build a bundle -------------------------------------------------------

/** What a bundle is built from. */
export interface LambdaBundleRequest {
  /** Entry file relative to {@link PROJECT_ROOT} (`functions/evaluate-drift/handler.ts`), or absolute. */
  entry: string;
  /** Where `index.mjs` and `index.mjs.map` are written. */
  outdir: string;
  /** esbuild `define`: the compiled desired state ({@link desiredStateDefine}); none for a bench baseline. */
  define?: Record<string, string>;
  /**
   * Whether the SDK is trimmed (the three plugins). True for every bundle Phoenix deploys; false
   * only for the benchmark's yardsticks (the SDK as esbuild bundles it unaided).
   */
  trimSdk?: boolean;
}

/** A built bundle: its file, its size and what went into it. */
export interface BuiltBundle {
  /** Absolute path of `index.mjs`. */
  file: string;
  /** Bytes of `index.mjs` (the code Lambda loads; the source map is read only on an error). */
  bytes: number;
  metafile: Metafile;
}

/**
 * Phoenix's esbuild options: Node.js 24 ESM, minified, source map without sources, the AWS
 * SDK bundled (the code runs against the SDK version it was tested with), the project's
 * tsconfig.json whoever's directory esbuild runs in.
 */
export function lambdaBuildOptions(request: LambdaBundleRequest): BuildOptions {
  return {
    absWorkingDir: PROJECT_ROOT,
    entryPoints: [request.entry],
    bundle: true,
    target: 'node24',
    platform: 'node',
    format: 'esm',
    outfile: join(request.outdir, 'index.mjs'),
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    external: [],
    define: request.define ?? {},
    metafile: true,
    banner: { js: ESM_REQUIRE_BANNER },
    mainFields: ['module', 'main'],
    tsconfig: join(PROJECT_ROOT, 'tsconfig.json'),
    plugins:
      request.trimSdk === false
        ? []
        : [resolveSdkSchemaKeysPlugin, environmentCredentialsOnlyPlugin, sdkPackageVersionOnlyPlugin],
    logLevel: 'warning',
  };
}

/** Builds one Lambda bundle into `request.outdir`: `index.mjs` and its source map. */
export async function bundleLambda(request: LambdaBundleRequest): Promise<BuiltBundle> {
  await mkdir(request.outdir, { recursive: true });
  const { metafile } = await build(lambdaBuildOptions(request));
  if (metafile === undefined) throw new LambdaBundleError(`esbuild wrote no metafile for ${request.entry}`);
  const file = join(request.outdir, 'index.mjs');
  return { file, bytes: (await stat(file)).size, metafile };
}

// ---- synchronously, for CDK ---------------------------------------------------------------

/** `.ts` when running from the repository's sources, `.js` when compiled (the package). */
const OWN_EXTENSION = extname(fileURLToPath(import.meta.url));

/** The script running {@link bundleLambda} for {@link bundleLambdaSync}. */
const BUNDLE_PROCESS = fileURLToPath(new URL(`./lambda-bundle-process${OWN_EXTENSION}`, import.meta.url));

/**
 * {@link bundleLambda}, synchronously: in a child Node.js process, since esbuild runs
 * plugins only in its asynchronous API and CDK's local bundling must answer synchronously.
 * From sources the child runs under tsx (a devDependency); the package runs compiled code.
 *
 * @throws LambdaBundleError with esbuild's messages when the bundle cannot be built
 */
export function bundleLambdaSync(request: LambdaBundleRequest): { bytes: number } {
  const loader =
    OWN_EXTENSION === '.ts'
      ? ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href]
      : [];
  const child = spawnSync(process.execPath, [...loader, BUNDLE_PROCESS], {
    cwd: PROJECT_ROOT,
    input: JSON.stringify(request),
    encoding: 'utf8',
    timeout: 300_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  if (child.error !== undefined) {
    throw new LambdaBundleError(`cannot bundle ${request.entry}: ${child.error.message}`);
  }
  if (child.status !== 0) {
    throw new LambdaBundleError(`cannot bundle ${request.entry}:\n${child.stderr.trim()}`);
  }
  // esbuild's warnings, if any, as NodejsFunction would have shown them.
  if (child.stderr.trim() !== '') process.stderr.write(child.stderr);
  return JSON.parse(child.stdout) as { bytes: number };
}

/**
 * CDK local bundling of one Phoenix function ({@link bundleLambdaSync} into CDK's output
 * directory). Its enumerable fields are what CDK serialises into the asset's cache key, so
 * they name everything the bundle depends on besides the sources: two functions, or two
 * desired states, never share a cached bundle.
 */
export class PhoenixLocalBundling implements ILocalBundling {
  readonly entry: string;
  /** sha256 of the `define` (the compiled desired state, provenance included). */
  readonly defineSha256: string;
  readonly #define: Record<string, string>;

  constructor(options: { entry: string; define: Record<string, string> }) {
    this.entry = options.entry;
    this.#define = options.define;
    this.defineSha256 = createHash('sha256').update(JSON.stringify(options.define)).digest('hex');
  }

  tryBundle(outputDir: string): boolean {
    bundleLambdaSync({ entry: this.entry, outdir: outputDir, define: this.#define });
    return true;
  }
}
