// Chat templates, rendered with bounds. A chat template is code from the model's files, run on the engine's thread,
// synchronously: `{% for i in range(100000000) %}` or a string doubled in a loop would hold the thread (and every stop
// or unload behind it) for as long as it likes. So @huggingface/jinja's interpreter is run here with a budget: every
// step it evaluates is counted, the clock is read every few hundred steps, every value it produces is measured, and
// `range()` refuses to build more than MAX_RANGE items; past any bound the render stops with EngineError('bad-input')
// naming chat_template (or, for output longer than any prompt the context can take, the prompt). Each loop iteration
// counts as a step (an empty loop body evaluates nothing), and no list may grow past MAX_RANGE items (a list doubled
// in a loop). Parsing is bounded too: the library's lexer runs a regular expression whose time grows with the square
// of each run of whitespace (`(\s*){%...`), and the parser recurses once per nesting level, so a template longer than
// MAX_TEMPLATE_CHARS, or with a run of more than MAX_WHITESPACE_RUN whitespace characters, is refused before it is parsed.
import { Environment, Interpreter, Template } from '@huggingface/jinja';
import { EngineError } from '../errors.ts';

export interface TemplateLimits {
  /** Wall-clock bound on one render, ms. */
  maxMs: number;
  /** Longest string the render may produce (the output, or any value along the way), in UTF-16 code units. */
  maxChars: number;
}

export const DEFAULT_TEMPLATE_MS = 1000;
/** Items one range() call may make (a chat has a few messages; a template that loops 1e8 times is hostile). */
export const MAX_RANGE = 100_000;
/** Steps between two reads of the clock. */
const CLOCK_EVERY = 256;
/**
 * The longest template source parsed (the largest real ones, tool-calling templates with several named variants, are
 * a few tens of KiB).
 */
export const MAX_TEMPLATE_CHARS = 256 * 1024;
/**
 * The longest run of whitespace a template may hold (real ones indent by tens of spaces): the lexer's cost is about
 * the source's length times its longest run, so these two bounds keep a parse to a fraction of a second.
 */
export const MAX_WHITESPACE_RUN = 1024;

type Statement = Parameters<Interpreter['evaluate']>[0];
type Value = ReturnType<Interpreter['evaluate']>;

/** Thrown inside the interpreter when a bound is passed; turned into an EngineError by render(). */
class BoundPassed extends Error {
  constructor(
    readonly setting: 'chat_template' | 'prompt',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Characters of all the strings a render may produce along the way, as a multiple of maxChars: a loop's body output is
 * built up inside the interpreter before its total is returned, and nesting counts a string once per level, so the
 * budget is wide (a real template produces a few KiB) but keeps a hostile loop's memory to a bounded multiple.
 */
const PRODUCED_PER_OUTPUT_CHAR = 16;

class BoundedInterpreter extends Interpreter {
  private steps = 0;
  private produced = 0;
  private readonly deadline: number;

  constructor(
    env: Environment,
    private readonly limits: TemplateLimits,
  ) {
    super(env);
    this.deadline = performance.now() + limits.maxMs;
    // A loop evaluates its body through evaluateBlock once per iteration, even when the body is empty (and so calls
    // evaluate() never): each block is a step too. (evaluateBlock is private in the library's types, not at run time.)
    type Block = (statements: Statement[], environment: Environment) => Value;
    const self = this as unknown as { evaluateBlock: Block };
    const block = self.evaluateBlock;
    self.evaluateBlock = (statements, environment) => {
      this.step();
      return block.call(this, statements, environment);
    };
  }

  private step(): void {
    if (++this.steps % CLOCK_EVERY === 0 && performance.now() > this.deadline) {
      throw new BoundPassed('chat_template', `the chat template ran longer than ${this.limits.maxMs} ms (${this.steps} steps): stopped`);
    }
  }

  override evaluate(statement: Statement, environment: Environment): Value {
    this.step();
    const v = super.evaluate(statement, environment);
    if (Array.isArray(v.value) && v.value.length > MAX_RANGE) {
      throw new BoundPassed('chat_template', `the chat template made a list of ${v.value.length} items, more than ${MAX_RANGE}: stopped`);
    }
    if (typeof v.value === 'string') {
      if (v.value.length > this.limits.maxChars) {
        throw new BoundPassed(
          'prompt',
          `the chat template produced more than ${this.limits.maxChars} characters, more than the context can take as a prompt: stopped`,
        );
      }
      this.produced += v.value.length;
      if (this.produced > PRODUCED_PER_OUTPUT_CHAR * this.limits.maxChars) {
        throw new BoundPassed('chat_template', `the chat template built more than ${this.produced} characters of text along the way: stopped`);
      }
    }
    return v;
  }
}

/** Python's range(), refusing to make more than MAX_RANGE items. */
function boundedRange(start: number, stop?: number, step = 1): number[] {
  if (stop === undefined) [start, stop] = [0, start];
  if (![start, stop, step].every(Number.isFinite)) throw new Error('range() takes finite numbers');
  if (step === 0) throw new Error('range() step must not be zero');
  const n = Math.max(0, Math.ceil((stop - start) / step));
  if (n > MAX_RANGE) throw new BoundPassed('chat_template', `the chat template asked range() for ${n} items, more than ${MAX_RANGE}: stopped`);
  return Array.from({ length: n }, (_, i) => start + i * step);
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** The subset of strftime that @huggingface/jinja's strftime_now knows (Llama 3.x templates print the date). */
function strftimeNow(format: string): string {
  const d = new Date();
  return String(format).replace(/%[YmdbBHM%]/g, (t) => {
    switch (t) {
      case '%Y':
        return String(d.getFullYear());
      case '%m':
        return pad2(d.getMonth() + 1);
      case '%d':
        return pad2(d.getDate());
      case '%b':
        return new Intl.DateTimeFormat(undefined, { month: 'short' }).format(d);
      case '%B':
        return new Intl.DateTimeFormat(undefined, { month: 'long' }).format(d);
      case '%H':
        return pad2(d.getHours());
      case '%M':
        return pad2(d.getMinutes());
      default:
        return '%';
    }
  });
}

/** The globals @huggingface/jinja's Template.render sets up, with range() bounded. */
const GLOBALS: Record<string, unknown> = {
  false: false,
  true: true,
  none: null,
  False: false,
  True: true,
  None: null,
  raise_exception: (message: unknown) => {
    throw new Error(String(message));
  },
  range: boundedRange,
  strftime_now: strftimeNow,
};

export class ChatTemplate {
  private readonly template: Template;

  /**
   * Parses the template; throws what the parser throws (the tokenizer keeps it as chatTemplateError), or why the
   * source is refused unparsed (longer than MAX_TEMPLATE_CHARS, a whitespace run past MAX_WHITESPACE_RUN).
   */
  constructor(readonly source: string) {
    if (source.length > MAX_TEMPLATE_CHARS) {
      throw new Error(`the chat template is ${source.length} characters long, more than the ${MAX_TEMPLATE_CHARS} this engine parses`);
    }
    for (const run of source.matchAll(/\s+/g)) {
      if (run[0].length > MAX_WHITESPACE_RUN) {
        throw new Error(`the chat template holds a run of ${run[0].length} whitespace characters, more than the ${MAX_WHITESPACE_RUN} this engine parses`);
      }
    }
    try {
      this.template = new Template(source);
    } catch (e) {
      if (e instanceof RangeError) throw new Error(`the chat template nests too deeply to parse (${e.message})`, { cause: e });
      throw e;
    }
  }

  /**
   * Renders with `items` (messages, special tokens, add_generation_prompt) within `limits`. A template error, or a
   * bound passed, is EngineError('bad-input') naming chat_template (or prompt, for an output too long to be one).
   */
  render(items: Record<string, unknown>, limits: TemplateLimits): string {
    const env = new Environment();
    for (const [k, v] of Object.entries({ ...GLOBALS, ...items })) env.set(k, v);
    try {
      const out = new BoundedInterpreter(env, limits).run(this.template.parsed).value;
      if (typeof out !== 'string') throw new Error('the template did not produce text');
      return out;
    } catch (e) {
      if (e instanceof BoundPassed) {
        throw new EngineError('bad-input', e.message, { setting: e.setting, ...(e.setting === 'prompt' ? { maxChars: limits.maxChars } : {}) });
      }
      if (e instanceof RangeError) {
        const deep = /call stack/i.test(e.message);
        throw new EngineError(
          'bad-input',
          deep ? `the chat template recursed too deeply (${e.message}): stopped` : `the chat template made a value too large to hold (${e.message})`,
          { setting: 'chat_template' },
        );
      }
      throw new EngineError('bad-input', `chat template: ${e instanceof Error ? e.message : String(e)}`, { setting: 'chat_template' });
    }
  }
}
