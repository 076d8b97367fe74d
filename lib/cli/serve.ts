// `minimonkey serve`: the model behind an OpenAI-compatible HTTP API and a page to try it
// (lib/server). Ctrl-C / SIGTERM stop taking requests, let those in flight finish, and exit.
import path from 'node:path';
import { DEFAULTS, limitRange, SERVER_LIMITS } from '../limits';
import { isPresetName, PresetName, PRESET_NAMES } from '../msac/presets';
import { MiniMonkey } from '../model';
import { MiniMonkeyServer } from '../server/server';
import { CliCommand, CliContext, parseOptions, UsageError } from './command';
import { didYouMean } from './suggest';
import { intFlag, limitFlag, ISOLATE_OPTIONS, ISOLATE_USAGE, LOAD_OPTIONS, LOAD_USAGE, loadArgs, LoadArgs, requireModelFiles } from './model-args';

const USAGE = `usage: minimonkey serve --model FILE --mmproj FILE [options]

Serves the model over HTTP: POST /v1/chat/completions (OpenAI's API, streaming included),
GET /v1/models, GET /health, and a page at / to try it. One line per request on stderr.

options:
${LOAD_USAGE}
${ISOLATE_USAGE}
  --host H               address to bind (default 127.0.0.1: this machine only)
  --port N               port (default 8080; 0 picks a free one)
  --parallel N           conversations answered at once, as sequences of one context with their
                         decodes batched (default ${DEFAULTS.parallel}; ${limitRange('parallel').min}-${limitRange('parallel').max})
  --max-waiting N        requests that may wait for a slot before 503 (default ${SERVER_LIMITS.maxWaiting.default};
                         --queue N is its old name, kept for one minor version)
  --api-key KEY          require Authorization: Bearer KEY on /v1 (default: env MINIMONKEY_API_KEY)
  --max-body BYTES       largest request body (default ${SERVER_LIMITS.bodyBytes.default})
  --max-image BYTES      largest image (default ${SERVER_LIMITS.imageBytes.default})
  --max-tokens-limit N   largest max_tokens a request may ask (default ${SERVER_LIMITS.maxTokens.default})
  --allow-files          image_url may be an absolute local file path (the server reads it)
  --allow-urls           image_url may be an http(s) URL (the server fetches it)
  -p, --preset NAME      the crop preset of requests that do not send minimonkey.crop (a plain
                         OpenAI client cannot): ${PRESET_NAMES.join(', ')} (default: the family's)
  --scm                  scale compression for requests that do not send minimonkey.scm
  --alias NAME           the model id /v1/models lists (default: the text model's file name)
  -h, --help             this help
`;

interface Parsed {
  load: LoadArgs;
  host: string;
  port: number;
  parallel: number;
  maxWaiting: number;
  apiKey?: string;
  maxBody?: number;
  maxImage?: number;
  maxTokens?: number;
  allowFiles: boolean;
  allowUrls: boolean;
  defaults: { crop?: PresetName; scm?: boolean };
  alias?: string;
}

function parse(argv: string[]): Parsed | 'help' {
  const { values } = parseOptions(argv, {
    ...LOAD_OPTIONS,
    ...ISOLATE_OPTIONS,
    host: { type: 'string' },
    port: { type: 'string' },
    parallel: { type: 'string' },
    'max-waiting': { type: 'string' },
    queue: { type: 'string' }, // the old name of --max-waiting
    'api-key': { type: 'string' },
    'max-body': { type: 'string' },
    'max-image': { type: 'string' },
    'max-tokens-limit': { type: 'string' },
    'allow-files': { type: 'boolean' },
    'allow-urls': { type: 'boolean' },
    preset: { type: 'string', short: 'p' },
    scm: { type: 'boolean' },
    alias: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  const apiKey = values['api-key'] ?? process.env.MINIMONKEY_API_KEY;
  if (apiKey !== undefined && apiKey.trim() === '') throw new UsageError('--api-key is empty');
  const W = SERVER_LIMITS.maxWaiting;
  if (values.queue !== undefined) process.stderr.write('serve: --queue N is now --max-waiting N (--queue names batch\'s BullMQ queue); the old name goes in the next minor version\n');
  const preset = values.preset;
  if (preset !== undefined && !isPresetName(preset)) throw new UsageError(`unknown preset '${preset}'${didYouMean(preset, PRESET_NAMES)} (${PRESET_NAMES.join(', ')})`);
  const alias = values.alias;
  if (alias !== undefined && !/^[\w.:/@+-]{1,128}$/.test(alias)) throw new UsageError('--alias takes 1 to 128 letters, digits and . : / @ + - _');
  return {
    load: loadArgs(values),
    host: values.host ?? '127.0.0.1',
    port: intFlag(values.port, '--port', 0, 65535) ?? 8080,
    parallel: limitFlag(values.parallel, '--parallel', 'parallel') ?? DEFAULTS.parallel,
    maxWaiting: intFlag(values['max-waiting'], '--max-waiting', W.min, W.max) ?? intFlag(values.queue, '--queue', W.min, W.max) ?? W.default,
    apiKey,
    maxBody: intFlag(values['max-body'], '--max-body', 1024, 1 << 30),
    maxImage: intFlag(values['max-image'], '--max-image', 1024, 1 << 30),
    maxTokens: intFlag(values['max-tokens-limit'], '--max-tokens-limit', 1, 131072),
    allowFiles: values['allow-files'] === true,
    allowUrls: values['allow-urls'] === true,
    defaults: { ...(preset !== undefined ? { crop: preset } : {}), ...(values.scm ? { scm: true } : {}) },
    alias,
  };
}

async function run(args: Parsed, ctx: CliContext): Promise<number> {
  const load = requireModelFiles(args.load);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  // Several slots: one shared context of `parallel` sequences, their decodes batched (README
  // "Several conversations at once"); one slot keeps a context of its own that grows per turn.
  const model = await MiniMonkey.load({ ...load, ...(args.parallel > 1 ? { parallel: args.parallel } : {}), signal: ctx.signal });
  try {
    // --isolate: the model in a child process; the server uses chat(), sequences, family and
    // planCrops, which IsolatedMiniMonkey has with MiniMonkey's shapes (its sessions' ask,
    // reset, dispose and contextUsed too).
    const server = await MiniMonkeyServer.start(model as MiniMonkey, {
      host: args.host, port: args.port, parallel: args.parallel, maxWaiting: args.maxWaiting, apiKey: args.apiKey,
      maxBodyBytes: args.maxBody, maxImageBytes: args.maxImage, maxTokens: args.maxTokens,
      allowFiles: args.allowFiles, allowUrls: args.allowUrls, log, defaults: args.defaults,
      // The id clients see is what is loaded: the text model's file name, unless --alias names it.
      modelName: args.alias ?? path.basename(load.model).replace(/\.gguf$/i, ''),
    });
    if (!['127.0.0.1', '::1', 'localhost'].includes(args.host) && args.apiKey === undefined) {
      log(`minimonkey serve: warning: listening on ${args.host} without --api-key: anyone who can reach it can use it`);
    }
    const d = args.defaults;
    const defaults = `preset ${d.crop ?? model.family.defaultPreset}${d.scm ? ', SCM on' : ''} unless a request says otherwise`;
    log(`minimonkey serve: listening on ${server.url} (${args.parallel} slot${args.parallel === 1 ? '' : 's'}; ${defaults}; page at ${server.url}/)`);
    await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
    log('minimonkey serve: stopping: finishing requests in flight');
    await server.close();
    log('minimonkey serve: stopped');
    return 0;
  } finally {
    model.dispose();
  }
}

export const command: CliCommand<Parsed> = { usage: USAGE, parse, run };
