/**
 * `npm run build` (run by `npm pack` before packing, `prepack`): compiles what the package
 * runs into `dist/`, JavaScript with type declarations, mirroring the source tree — the
 * `phoenix` command (bin/phoenix.mjs loads dist/functions/cli/main.js), the library entry
 * (infra/index.ts: the DriftRemediator construct) and the process that bundles a Lambda at
 * synth. The Lambda handlers themselves ship as sources: the consumer's synth bundles them
 * with esbuild, as a checkout's does, so the bundle deployed is the bundle measured.
 *
 * The sources import each other without extensions (`moduleResolution: bundler`); Node.js
 * and a consumer's TypeScript with `nodenext` need them, so every relative import of the
 * emitted code and declarations is written with the file it resolves to (`./x.js`,
 * `./dir/index.js`). `npm pack` runs `postpack` afterwards, which removes `dist/` again, so a
 * checkout never runs stale compiled code instead of its sources.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT_DIR = join(ROOT, 'dist');

/** What the package runs; everything they import is compiled with them. */
const ENTRIES = [
  'infra/index.ts',
  'infra/parts/lambda-bundle-process.ts',
  'functions/cli/main.ts',
  // Loaded by name at run time (`phoenix <command>`), so imported by nothing.
  ...readdirSync(join(ROOT, 'functions/cli/commands'))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => `functions/cli/commands/${f}`),
];

/** Thrown when the sources do not compile, or an import cannot be given its emitted file. */
class BuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BuildError';
  }
}

/** The specifier Node.js resolves for a relative import of `fromFile`; unchanged if it already names a file. */
function emittedSpecifier(specifier: string, fromFile: string): string {
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return specifier;
  if (/\.(?:js|mjs|cjs|json)$/.test(specifier)) return specifier;
  const target = resolve(dirname(fromFile), specifier);
  if (existsSync(`${target}.ts`)) return `${specifier}.js`;
  if (existsSync(join(target, 'index.ts'))) return `${specifier}/index.js`;
  throw new BuildError(`${fromFile}: cannot tell which file "${specifier}" is`);
}

/** Rewrites the relative module specifiers of emitted code and declarations (see the top of this file). */
function specifierRewriter(
  context: ts.TransformationContext,
): (file: ts.SourceFile | ts.Bundle) => ts.SourceFile {
  const { factory } = context;
  return (file) => {
    if (!ts.isSourceFile(file)) throw new BuildError('bundled output is not expected');
    const literal = (node: ts.StringLiteral) =>
      factory.createStringLiteral(emittedSpecifier(node.text, file.fileName));
    const visit = (node: ts.Node): ts.Node => {
      if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
        return factory.updateImportDeclaration(
          node,
          node.modifiers,
          node.importClause,
          literal(node.moduleSpecifier),
          node.attributes,
        );
      }
      if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
        return factory.updateExportDeclaration(
          node,
          node.modifiers,
          node.isTypeOnly,
          node.exportClause,
          literal(node.moduleSpecifier),
          node.attributes,
        );
      }
      if (
        ts.isImportTypeNode(node) &&
        ts.isLiteralTypeNode(node.argument) &&
        ts.isStringLiteral(node.argument.literal)
      ) {
        return factory.updateImportTypeNode(
          node,
          factory.createLiteralTypeNode(literal(node.argument.literal)),
          node.attributes,
          node.qualifier,
          node.typeArguments,
          node.isTypeOf,
        );
      }
      if (
        ts.isCallExpression(node) &&
        node.expression.kind === ts.SyntaxKind.ImportKeyword &&
        node.arguments.length >= 1 &&
        node.arguments[0] !== undefined &&
        ts.isStringLiteral(node.arguments[0])
      ) {
        const [first, ...rest] = node.arguments;
        return factory.updateCallExpression(node, node.expression, node.typeArguments, [
          literal(first),
          ...rest,
        ]);
      }
      return ts.visitEachChild(node, visit, context);
    };
    return ts.visitEachChild(file, visit, context);
  };
}

function compilerOptions(): ts.CompilerOptions {
  const configFile = join(ROOT, 'tsconfig.json');
  const read = ts.readConfigFile(configFile, ts.sys.readFile);
  if (read.error !== undefined)
    throw new BuildError(ts.flattenDiagnosticMessageText(read.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, ROOT, undefined, configFile);
  return {
    ...parsed.options,
    noEmit: false,
    declaration: true,
    outDir: OUT_DIR,
    rootDir: ROOT,
    sourceMap: false,
    // Type checking is `npm run typecheck`'s (in `npm test`); checking again here would double
    // the build's time for nothing. Syntax and emit errors still fail it.
    noCheck: true,
  };
}

function build(): void {
  rmSync(OUT_DIR, { recursive: true, force: true });
  const program = ts.createProgram({
    rootNames: ENTRIES.map((e) => join(ROOT, e)),
    options: compilerOptions(),
  });
  const result = program.emit(undefined, undefined, undefined, false, {
    before: [specifierRewriter],
    afterDeclarations: [specifierRewriter],
  });
  const diagnostics = [
    ...program.getOptionsDiagnostics(),
    ...program.getSyntacticDiagnostics(),
    ...result.diagnostics,
  ];
  if (diagnostics.length > 0) {
    const host: ts.FormatDiagnosticsHost = {
      getCanonicalFileName: (f) => f,
      getCurrentDirectory: () => ROOT,
      getNewLine: () => '\n',
    };
    throw new BuildError(ts.formatDiagnostics(diagnostics, host));
  }
  process.stderr.write(`build: compiled ${ENTRIES.length} entries and what they import into dist/\n`);
}

try {
  build();
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
