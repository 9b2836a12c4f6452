// localbridge's Node.js runtime client: the Lambda Runtime API as AWS's Node.js runtimes for
// nodejs18.x, nodejs20.x and nodejs22.x speak it (aws-lambda-ric 3.x), with `node:http` only (the
// official client needs a native build). Runs on Node 18, 20 and 22.
//
// Observable behaviour copied from the managed runtimes:
// - `_HANDLER` is `[dir/]file.export[.nested...]`; the module is looked up in `LAMBDA_TASK_ROOT`
//   as `<file>` (require), `<file>.js` (require, or import() when the nearest package.json says
//   "type": "module"), `<file>.mjs` (import()), `<file>.cjs` (require), then `require.resolve`.
//   The export path is resolved dot by dot; `module.default` is tried as well (as the newer
//   client does).
// - Init failures are posted to `/runtime/init/error` with `Lambda-Runtime-Function-Error-Type`
//   and the body `{"errorType","errorMessage","trace"}`, logged as
//   `<ISO time>\tundefined\tERROR\tUncaught Exception \t{"errorType",...,"stack":[...]}` (the
//   request id is `undefined` before the first invocation, as CloudWatch shows it for these
//   runtimes), and the process exits with 129, as the managed runtime's uncaught-exception path
//   does.
// - Handlers: async (a returned promise), callback style (`callback(err, result)`, honouring
//   `context.callbackWaitsForEmptyEventLoop`: by default the response is posted once the event
//   loop has nothing left to do, like the real runtime's `beforeExit` hook), `context.done`,
//   `context.succeed`, `context.fail`. A synchronous handler that never calls back answers
//   `null` when the event loop empties; an async handler whose promise never settles fails with
//   `Runtime.NodeJsExit`.
// - Errors are posted to `/runtime/invocation/<id>/error` as `{"errorType":"Error",
//   "errorMessage":"boom","trace":["Error: boom","    at ..."]}` (a thrown non-Error:
//   `{"errorType":"string","errorMessage":"plain string","trace":[]}`) and logged as
//   `<ISO time>\t<id>\tERROR\tInvoke Error \t{"errorType":...,"errorMessage":...,"stack":[...]}`.
//   An uncaught exception or unhandled rejection during an invocation is posted as its error,
//   then the process exits (129 and 128).
// - console.log/info/warn/error/debug/trace/fatal write `<ISO time>\t<request id>\t<LEVEL>\t
//   <util.format(...)>` with every `\n` turned into `\r` (one log event per record);
//   `AWS_LAMBDA_LOG_FORMAT=JSON` writes `{"timestamp","level","requestId","message"}` instead,
//   and `AWS_LAMBDA_LOG_LEVEL` drops the levels below it. Records are written to fd 1 at once
//   (behind whatever the handler left queued in process.stdout), and an answer is posted only
//   once process.stdout and process.stderr are flushed: everything a handler wrote is in the
//   pipes before its answer arrives (the environment reads the pipes then).
// - `awslambda.streamifyResponse` handlers run buffered: what they write to the response stream
//   is posted as one response once the stream has ended.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import util from 'node:util';
import { Writable } from 'node:stream';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const API_PREFIX = '/2018-06-01/runtime';

// ---------------------------------------------------------------------------------------------
// Errors

class RuntimeError extends Error {}
const errorClass = (name) => {
  const c = { [name]: class extends RuntimeError {} }[name];
  c.prototype.name = `Runtime.${name}`;
  return c;
};
const ImportModuleError = errorClass('ImportModuleError');
const HandlerNotFound = errorClass('HandlerNotFound');
const MalformedHandlerName = errorClass('MalformedHandlerName');
const UserCodeSyntaxError = errorClass('UserCodeSyntaxError');
const MalformedStreamingHandler = errorClass('MalformedStreamingHandler');
class NodeJsExit extends RuntimeError {
  constructor() {
    super(
      'The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly caused by a Promise that was never settled. For more information, see https://nodejs.org/docs/latest/api/process.html#exit-codes',
    );
  }
}
NodeJsExit.prototype.name = 'Runtime.NodeJsExit';
class UnhandledPromiseRejection extends RuntimeError {
  constructor(reason, promise) {
    super(reason);
    this.reason = reason;
    this.promise = promise;
  }
}
UnhandledPromiseRejection.prototype.name = 'Runtime.UnhandledPromiseRejection';

function looksLikeError(v) {
  return (
    v &&
    typeof v.name === 'string' &&
    typeof v.message === 'string' &&
    typeof v.stack === 'string' &&
    v.name &&
    v.message &&
    v.stack
  );
}

function intoError(err) {
  return err instanceof Error ? err : new Error(err);
}

/** The body posted to `/error` and `/init/error`. */
function toRapidResponse(error) {
  try {
    if (util.types.isNativeError(error) || looksLikeError(error)) {
      return { errorType: error.name, errorMessage: error.message, trace: error.stack.split('\n') };
    }
    return { errorType: typeof error, errorMessage: error.toString(), trace: [] };
  } catch (_) {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
    };
  }
}

/** An error as the text log shows it: a tab, then JSON with its enumerable properties. */
function toFormatted(error) {
  const withProperties = (_k, v) => {
    if (!(v instanceof Error)) return v;
    const out = Object.assign({ errorType: v.name, errorMessage: v.message, code: v.code }, v);
    if (typeof v.stack === 'string') out.stack = v.stack.split('\n');
    return out;
  };
  try {
    return '\t' + JSON.stringify(error, withProperties);
  } catch (_) {
    return '\t' + JSON.stringify(toRapidResponse(error));
  }
}

// ---------------------------------------------------------------------------------------------
// Logging

let currentRequestId; // undefined until the first invocation, as the managed runtimes log it

const LEVELS = {
  TRACE: 1,
  DEBUG: 2,
  INFO: 3,
  WARN: 4,
  ERROR: 5,
  FATAL: 6,
};
const JSON_FORMAT = (process.env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON';
const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * Writes all of `text` to fd 1 at once, waiting while the pipe is full (Node's own stdout stream
 * makes it non-blocking). When that stream still holds bytes a handler wrote with
 * `process.stdout.write`, the record goes behind them instead, so the order is kept.
 */
function writeOut(text) {
  if (process.stdout.writableLength > 0) {
    process.stdout.write(text);
    return;
  }
  let buf = Buffer.from(text, 'utf8');
  while (buf.length > 0) {
    try {
      const n = fs.writeSync(1, buf);
      buf = buf.subarray(n);
    } catch (e) {
      if (e.code !== 'EAGAIN') return;
      Atomics.wait(sleepCell, 0, 0, 1);
    }
  }
}

/** Resolves once what was written to process.stdout and process.stderr is in the pipes. */
function flushStdio() {
  const flushed = (stream) =>
    stream.writableLength > 0 && !stream.destroyed
      ? new Promise((resolve) => stream.write('', () => resolve()))
      : Promise.resolve();
  return Promise.all([flushed(process.stdout), flushed(process.stderr)]);
}

/** Exits once the output is in the pipes. */
function exitAfterFlush(code) {
  flushStdio().finally(() => process.exit(code));
}

function jsonErrorReplacer(_k, v) {
  if (v instanceof Error) {
    return Object.assign(
      {
        errorType: v?.constructor?.name ?? 'UnknownError',
        errorMessage: v.message,
        stackTrace: typeof v.stack === 'string' ? v.stack.split('\n') : v.stack,
      },
      v,
    );
  }
  return v;
}

function formatJson(level, params) {
  const record = { timestamp: new Date().toISOString(), level, requestId: currentRequestId };
  if (params.length === 1) {
    record.message = params[0];
    try {
      return JSON.stringify(record, jsonErrorReplacer);
    } catch (_) {
      record.message = util.format(record.message);
      return JSON.stringify(record);
    }
  }
  record.message = util.format(...params);
  for (const p of params) {
    if (p instanceof Error) {
      record.errorType = p?.constructor?.name ?? 'UnknownError';
      record.errorMessage = p.message;
      record.stackTrace = typeof p.stack === 'string' ? p.stack.split('\n') : [];
      break;
    }
  }
  return JSON.stringify(record);
}

function log(level, params) {
  const line = JSON_FORMAT
    ? formatJson(level, params)
    : `${new Date().toISOString()}\t${currentRequestId}\t${level}\t${util.format(...params)}`;
  writeOut(line.replace(/\n/g, '\r') + '\n');
}

function patchConsole() {
  const threshold = LEVELS[(process.env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase()] ?? LEVELS.TRACE;
  const nop = () => {};
  const make = (level) =>
    LEVELS[level] >= threshold ? (msg, ...params) => log(level, [msg, ...params]) : nop;
  console.trace = make('TRACE');
  console.debug = make('DEBUG');
  console.info = make('INFO');
  console.log = console.info;
  console.warn = make('WARN');
  console.error = make('ERROR');
  console.fatal = (msg, ...params) => log('FATAL', [msg, ...params]);
}

/** How an error is logged: `Invoke Error`, `Uncaught Exception`, ... */
function logError(label, err) {
  if (JSON_FORMAT) console.error(intoError(err));
  else console.error(label, toFormatted(intoError(err)));
}

// ---------------------------------------------------------------------------------------------
// The Runtime API

class RuntimeClient {
  constructor(hostPort) {
    const parts = String(hostPort).split(':');
    if (parts.length !== 2) throw new Error(`AWS_LAMBDA_RUNTIME_API must be host:port, not ${hostPort}`);
    this.hostname = parts[0];
    this.port = parseInt(parts[1], 10);
    // Idle keep-alive sockets are unref'd by the agent: they do not keep the event loop busy.
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  request(method, urlPath, body, headers, retried = false) {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          hostname: this.hostname,
          port: this.port,
          method,
          path: API_PREFIX + urlPath,
          agent: this.agent,
          headers: body === undefined ? headers : { ...headers, 'Content-Length': Buffer.byteLength(body) },
        },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('error', (e) => {
        // A kept-alive connection the server closed meanwhile: one more try on a new one.
        if (!retried && (e.code === 'ECONNRESET' || e.code === 'EPIPE')) {
          this.request(method, urlPath, body, headers, true).then(resolve, reject);
        } else {
          reject(e);
        }
      });
      req.end(body);
    });
  }

  async next() {
    const res = await this.request('GET', '/invocation/next', undefined, {});
    if (res.status !== 200) {
      throw new Error(`/invocation/next answered ${res.status}: ${res.body.toString()}`);
    }
    return res;
  }

  postResponse(id, body, contentType = 'application/json') {
    return this.request('POST', `/invocation/${encodeURIComponent(id)}/response`, body, {
      'Content-Type': contentType,
    });
  }

  postError(id, error) {
    return this.request('POST', `/invocation/${encodeURIComponent(id)}/error`, serialize(toRapidResponse(error)), {
      'Content-Type': 'application/json',
    });
  }

  postInitError(error) {
    const response = toRapidResponse(error);
    return this.request('POST', '/init/error', serialize(response), {
      'Content-Type': 'application/json',
      'Lambda-Runtime-Function-Error-Type': String(response.errorType),
    });
  }
}

function serialize(body) {
  try {
    return JSON.stringify(body === undefined ? null : body);
  } catch (_) {
    throw new Error('Unable to stringify response body');
  }
}

// ---------------------------------------------------------------------------------------------
// Loading the handler

const FUNCTION_EXPR = /^([^.]*)\.(.*)$/;
const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const STREAM_RESPONSE = 'response';

function packageTypeIsModule(folder) {
  if (folder.endsWith('/node_modules')) return false;
  const pj = path.join(folder, 'package.json');
  if (fs.existsSync(pj)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(pj, 'utf8'));
      if (pkg) return pkg.type === 'module';
    } catch (e) {
      console.warn(`${pj} cannot be read, it will be ignored for ES module detection purposes.`, e);
      return false;
    }
  }
  if (folder === '/' || path.dirname(folder) === folder) return false;
  return packageTypeIsModule(path.resolve(folder, '..'));
}

function tryRequire(file) {
  return fs.existsSync(file) ? require(file) : undefined;
}

async function tryImport(file) {
  return fs.existsSync(file) ? await import(pathToFileURL(file).href) : undefined;
}

async function loadModule(appRoot, moduleRoot, moduleName) {
  const base = path.resolve(appRoot, moduleRoot, moduleName);
  const extensionless = tryRequire(base);
  if (extensionless) return extensionless;
  const typeModule = packageTypeIsModule(path.dirname(base));
  if (!typeModule) {
    const cjs = tryRequire(base + '.js');
    if (cjs) return cjs;
  }
  const loaded =
    (typeModule && (await tryImport(base + '.js'))) ||
    (await tryImport(base + '.mjs')) ||
    tryRequire(base + '.cjs');
  if (loaded) return loaded;
  return require(require.resolve(moduleName, { paths: [appRoot, moduleRoot] }));
}

function resolvePath(object, nested) {
  return nested.split('.').reduce((o, key) => o && o[key], object);
}

async function loadHandler(appRoot, fullHandler) {
  if (fullHandler.includes('..')) {
    throw new MalformedHandlerName(
      `'${fullHandler}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const handlerString = path.basename(fullHandler);
  const moduleRoot = fullHandler.substring(0, fullHandler.indexOf(handlerString));
  const match = handlerString.match(FUNCTION_EXPR);
  if (!match || match.length !== 3) throw new MalformedHandlerName('Bad handler');
  const [, moduleName, handlerPath] = match;
  let userApp;
  try {
    userApp = await loadModule(appRoot, moduleRoot, moduleName);
  } catch (e) {
    if (e instanceof SyntaxError) throw new UserCodeSyntaxError(e);
    if (e && e.code === 'MODULE_NOT_FOUND') throw new ImportModuleError(e);
    throw e;
  }
  let handler = resolvePath(userApp, handlerPath);
  if (!handler && userApp && userApp.default) handler = resolvePath(userApp.default, handlerPath);
  if (!handler) throw new HandlerNotFound(`${fullHandler} is undefined or not exported`);
  if (typeof handler !== 'function') throw new HandlerNotFound(`${fullHandler} is not a function`);
  return handler;
}

function installGlobals() {
  const off = process.env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA;
  if (off === '1' || off === 'true') return;
  globalThis.awslambda = {
    streamifyResponse(handler, _options) {
      handler[HANDLER_STREAMING] = STREAM_RESPONSE;
      return handler;
    },
    HttpResponseStream: {
      from(stream, prelude) {
        stream.setContentType('application/vnd.awslambda.http-integration-response');
        stream.write(JSON.stringify(prelude));
        stream.write(Buffer.alloc(8));
        return stream;
      },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Invocations

/** What runs when the event loop empties: at most one thing at a time. */
let beforeExit = () => {};
process.on('beforeExit', () => beforeExit());
const resetBeforeExit = () => {
  beforeExit = () => {};
};

let errorCallbacks;

function parseJsonHeader(value, name) {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new Error(`Cannot parse ${name} as json: ${err.toString()}`);
  }
}

class Runtime {
  constructor(client, handler) {
    this.client = client;
    this.handler = handler;
    const mode = handler[HANDLER_STREAMING];
    if (mode !== undefined && mode !== null && mode !== false && mode !== STREAM_RESPONSE) {
      throw new MalformedStreamingHandler('Only response streaming is supported.');
    }
    this.streaming = mode === STREAM_RESPONSE;
    this.isAsync = handler.constructor && handler.constructor.name === 'AsyncFunction';
  }

  scheduleIteration() {
    setImmediate(() => {
      this.handleOnce().catch((err) => {
        console.log(`Unexpected Top Level Error: ${err.toString()}`);
        errorCallbacks.uncaughtException(err);
      });
    });
  }

  async handleOnce() {
    let res;
    try {
      res = await this.client.next();
    } catch (e) {
      // The Runtime API is gone: the environment is stopping.
      process.exit(1);
    }
    const h = res.headers;
    const id = h['lambda-runtime-aws-request-id'];
    if (!id) throw new Error('invocation id is missing or invalid');
    currentRequestId = id;
    if (h['lambda-runtime-trace-id']) process.env._X_AMZN_TRACE_ID = h['lambda-runtime-trace-id'];
    else delete process.env._X_AMZN_TRACE_ID;
    const bodyJson = res.body.toString('utf8');

    errorCallbacks.uncaughtException = (error) => {
      flushStdio()
        .then(() => this.client.postError(id, error))
        .finally(() => exitAfterFlush(129));
    };
    errorCallbacks.unhandledRejection = (error) => {
      flushStdio()
        .then(() => this.client.postError(id, error))
        .finally(() => exitAfterFlush(128));
    };

    if (this.streaming) return this.handleStreaming(id, h, bodyJson);

    const scheduleNext = () => this.scheduleIteration();
    const [callback, callbackContext, markCompleted] = this.callbackContext(id, scheduleNext);
    beforeExit = () => {
      markCompleted();
      if (this.isAsync) {
        const error = new NodeJsExit();
        logError('Invoke Error', error);
        this.post(() => this.client.postError(id, error), scheduleNext);
      } else {
        // A synchronous handler that never called back answers null.
        this.post(() => this.client.postResponse(id, 'null'), scheduleNext);
      }
    };
    try {
      const context = this.context(callbackContext, h);
      const result = this.handler(JSON.parse(bodyJson), context, callback);
      if (result && typeof result.then === 'function') {
        result.then(callbackContext.succeed, callbackContext.fail).catch(callbackContext.fail);
      }
    } catch (err) {
      callback(err);
    }
  }

  /** Posts an answer, then starts the next iteration (also when the post failed). */
  post(send, then) {
    flushStdio()
      .then(send)
      .then(then, (e) => {
        // The Runtime API refused or is gone; the platform decides what happens next.
        log('ERROR', [`Runtime API: ${e}`]);
        then();
      });
  }

  callbackContext(id, scheduleNext) {
    const postError = (err) => {
      logError('Invoke Error', err);
      this.post(() => this.client.postError(id, err), scheduleNext);
    };
    let completed = false;
    const complete = (result) => {
      if (completed) {
        console.error(
          'Invocation has already been reported as done. Cannot call complete more than once per invocation.',
        );
        return;
      }
      completed = true;
      const body = serialize(result);
      this.post(() => this.client.postResponse(id, body), scheduleNext);
    };
    let waitForEmptyEventLoop = true;
    const callback = (err, result) => {
      resetBeforeExit();
      if (err !== undefined && err !== null) {
        postError(err);
      } else if (!waitForEmptyEventLoop) {
        complete(result);
      } else {
        // As the managed runtime: answer once the event loop has nothing else to do.
        beforeExit = () => setImmediate(() => complete(result));
      }
    };
    const done = (err, result) => {
      resetBeforeExit();
      if (err !== undefined && err !== null) postError(err);
      else complete(result);
    };
    const ctx = {
      get callbackWaitsForEmptyEventLoop() {
        return waitForEmptyEventLoop;
      },
      set callbackWaitsForEmptyEventLoop(value) {
        waitForEmptyEventLoop = value;
      },
      succeed: (result) => done(null, result),
      fail: (err) => (err === undefined || err === null ? done('handled') : done(err, null)),
      done,
    };
    // Only the first call of any of them counts.
    let finished = false;
    const once =
      (f) =>
      (...args) => {
        if (!finished) {
          f(...args);
          finished = true;
        }
      };
    ctx.succeed = once(ctx.succeed);
    ctx.fail = once(ctx.fail);
    ctx.done = once(ctx.done);
    return [once(callback), ctx, () => (completed = true)];
  }

  context(base, h) {
    const deadline = h['lambda-runtime-deadline-ms'];
    return Object.assign(
      base,
      {
        functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
        functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
        memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
        logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
        logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
      },
      {
        clientContext: parseJsonHeader(h['lambda-runtime-client-context'], 'ClientContext'),
        identity: parseJsonHeader(h['lambda-runtime-cognito-identity'], 'CognitoIdentity'),
        invokedFunctionArn: h['lambda-runtime-invoked-function-arn'],
        awsRequestId: h['lambda-runtime-aws-request-id'],
        tenantId: h['lambda-runtime-aws-tenant-id'],
        getRemainingTimeInMillis: () => deadline - Date.now(),
      },
    );
  }

  /** A `streamifyResponse` handler, buffered: the ended stream's bytes are the response. */
  async handleStreaming(id, h, bodyJson) {
    const scheduleNext = () => this.scheduleIteration();
    let finished = false;
    const fail = (err) => {
      if (finished) return;
      finished = true;
      resetBeforeExit();
      logError('Invoke Error', err);
      this.post(() => this.client.postError(id, err), scheduleNext);
    };
    const chunks = [];
    let contentType = 'application/octet-stream';
    const stream = new Writable({
      write(chunk, _enc, cb) {
        chunks.push(Buffer.from(chunk));
        cb();
      },
    });
    stream.setContentType = (type) => {
      contentType = type;
    };
    beforeExit = () => fail(new NodeJsExit());
    try {
      const ctx = this.context({}, h);
      const result = this.handler(JSON.parse(bodyJson), stream, ctx);
      if (!result || typeof result.then !== 'function') {
        fail('Streaming does not support non-async handlers.');
        return;
      }
      const value = await result;
      if (value !== undefined) console.warn('Streaming handlers ignore return values.');
      // The stream may still be finishing (or be ended later): wait as the managed runtime waits
      // for the end of its streamed HTTP request.
      if (!stream.writableFinished && !stream.destroyed) {
        await new Promise((resolve) => {
          stream.once('finish', resolve);
          stream.once('close', resolve);
          stream.once('error', resolve);
        });
      }
      if (!stream.writableFinished) {
        fail('Response stream is not finished.');
        return;
      }
      if (finished) return;
      finished = true;
      resetBeforeExit();
      this.post(() => this.client.postResponse(id, Buffer.concat(chunks), contentType), scheduleNext);
    } catch (err) {
      fail(err);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Start

patchConsole();
installGlobals();
const client = new RuntimeClient(process.env.AWS_LAMBDA_RUNTIME_API);

errorCallbacks = {
  uncaughtException: (error) => {
    flushStdio()
      .then(() => client.postInitError(error))
      .finally(() => exitAfterFlush(129));
  },
  unhandledRejection: (error) => {
    flushStdio()
      .then(() => client.postInitError(error))
      .finally(() => exitAfterFlush(128));
  },
};
process.on('uncaughtException', (error) => {
  logError('Uncaught Exception', error);
  errorCallbacks.uncaughtException(error);
});
process.on('unhandledRejection', (reason, promise) => {
  const error = new UnhandledPromiseRejection(reason, promise);
  logError('Unhandled Promise Rejection', error);
  errorCallbacks.unhandledRejection(error);
});

const appRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
const handlerName = process.env._HANDLER || process.argv[2] || '';
let runtime;
try {
  runtime = new Runtime(client, await loadHandler(appRoot, handlerName));
} catch (error) {
  // As the managed runtime: a failed load is an uncaught exception during init.
  logError('Uncaught Exception', error);
  await flushStdio();
  await client.postInitError(error).catch(() => {});
  exitAfterFlush(129);
}
if (runtime) runtime.scheduleIteration();
