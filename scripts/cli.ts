// How every CLI here reads its command line: node:util parseArgs in strict mode (an unknown option, a missing value
// or a stray positional is an error, never ignored), `--help` / `-h` on each, and the CLI's usage printed with the
// error. The command lines themselves are in cli-specs.ts, so their parsing is unit-tested without running a CLI.
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';

export interface CliSpec<O extends ParseArgsOptionsConfig = ParseArgsOptionsConfig> {
  /** The usage text, first line `usage: …`. */
  usage: string;
  options: O;
  /** Whether positional arguments are taken (default: none). */
  positionals?: boolean;
}

/** A command line the CLI does not take: printed with the usage, exit status 2 (0 for --help). */
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

const HELP = { help: { type: 'boolean', short: 'h' } } as const;

type Parsed<O extends ParseArgsOptionsConfig> = ReturnType<typeof parseArgs<{ options: O & typeof HELP; strict: true; allowPositionals: boolean }>>;

/** Parses `argv` against `spec` strictly; throws UsageError (with the usage) on anything it does not take. */
export function parseCli<const O extends ParseArgsOptionsConfig>(spec: CliSpec<O>, argv: readonly string[]): Parsed<O> {
  let parsed: Parsed<O>;
  try {
    parsed = parseArgs({ args: [...argv], options: { ...spec.options, ...HELP }, allowPositionals: spec.positionals ?? false, strict: true }) as Parsed<O>;
  } catch (e) {
    const code = (e as { code?: string }).code ?? '';
    if (!code.startsWith('ERR_PARSE_ARGS')) throw e;
    throw new UsageError(`${(e as Error).message}\n${spec.usage}`);
  }
  if ((parsed.values as { help?: boolean }).help) throw new UsageError(spec.usage, 0);
  return parsed;
}

/** parseCli for a script that runs at its top level: a UsageError is printed and the process exits. */
export function parseCliOrExit<const O extends ParseArgsOptionsConfig>(spec: CliSpec<O>, argv: readonly string[]): Parsed<O> {
  try {
    return parseCli(spec, argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    (e.exitCode === 0 ? console.log : console.error)(e.message);
    process.exit(e.exitCode);
  }
}

/** A value the CLI cannot use (a number that is not one, a choice not offered): a UsageError naming the option. */
export function badValue(spec: CliSpec, option: string, value: unknown, want: string): UsageError {
  return new UsageError(`--${option}: ${want}, not '${String(value)}'\n${spec.usage}`);
}

/** A finite number from an option's text (throws badValue otherwise). */
export function numberOption(spec: CliSpec, option: string, text: string, test: (n: number) => boolean = Number.isFinite, want = 'a number'): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || !test(n)) throw badValue(spec, option, text, want);
  return n;
}

/**
 * Runs a CLI's main and exits: its status (default 0), 2 with the usage for a UsageError (0 for --help), 1 with the
 * message for anything else. Exiting explicitly also ends a process Dawn would keep alive; a server passes
 * `{ serve: true }` to stay up once main has resolved.
 */
export function runCli(main: () => Promise<number | void>, opts: { serve?: boolean } = {}): void {
  main().then(
    (code) => {
      if (!opts.serve || code !== undefined) process.exit(code ?? 0);
    },
    (e: unknown) => {
      if (e instanceof UsageError) {
        (e.exitCode === 0 ? console.log : console.error)(e.message);
        process.exit(e.exitCode);
      }
      console.error(e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : e);
      if (e && typeof e === 'object' && 'details' in e) console.error(JSON.stringify((e as { details: unknown }).details));
      process.exit(1);
    },
  );
}
