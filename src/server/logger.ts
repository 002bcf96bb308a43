/**
 * The server's structured logs. The interface is pino's (`logger.info(fields, message)`), so pino,
 * bunyan-style loggers and `console` plug in as they are. Fields never carry key material or message
 * data: a peer is named by its session id and an 8-character prefix of its public key.
 */

/** Structured fields of one log record (connection id, key prefix, counts…). */
export type LogFields = Record<string, unknown>;
/** One level's method, pino's call shape: fields first, then the message. */
export type LogMethod = (fields: LogFields, message?: string) => void;

/** What the server logs through (`logger` option); pino fits as it is. `debug` is optional. */
export interface ServerLogger {
  /** Socket detail: connects and closes. */
  debug?: LogMethod;
  /** Listening and closing, sessions authenticated, handshakes refused, silent sockets terminated. */
  info: LogMethod;
  /** Limits hit: connection limit, a slow reader's full send buffer. */
  warn: LogMethod;
  /** Failures inside the server or thrown by application hooks (`authorize`, `iceServers`, `onMessage`). */
  error: LogMethod;
}

/** The four levels, least severe first; {@link jsonLineLogger} drops those below its `level`. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** A logger that writes one JSON object per line (`{"time","level","msg",...fields}`), as the CLI does. */
export function jsonLineLogger(
  write: (line: string) => void = (line) => process.stdout.write(line),
  options: { level?: LogLevel } = {},
): Required<ServerLogger> {
  const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
  const min = order[options.level ?? 'info'];
  const method =
    (level: LogLevel): LogMethod =>
    (fields, message) => {
      if (order[level] < min) return;
      write(`${JSON.stringify({ time: new Date().toISOString(), level, msg: message, ...fields })}\n`);
    };
  return { debug: method('debug'), info: method('info'), warn: method('warn'), error: method('error') };
}

/** The part of a public key that may appear in logs: enough to tell peers apart, not the key. */
export function keyPrefix(publicKey: string): string {
  return publicKey.slice(0, 8);
}

/** Wraps an optional logger so call sites need no checks, and a throwing logger cannot break the server. */
export class Log {
  /** Whether debug lines go anywhere, so hot paths can skip building their fields. */
  readonly debugEnabled: boolean;

  constructor(private readonly logger: ServerLogger | undefined) {
    this.debugEnabled = typeof logger?.debug === 'function';
  }

  debug(fields: LogFields, message: string): void {
    this.emit('debug', fields, message);
  }
  info(fields: LogFields, message: string): void {
    this.emit('info', fields, message);
  }
  warn(fields: LogFields, message: string): void {
    this.emit('warn', fields, message);
  }
  error(fields: LogFields, message: string): void {
    this.emit('error', fields, message);
  }

  private emit(level: LogLevel, fields: LogFields, message: string): void {
    const method = this.logger?.[level];
    if (!method) return;
    try {
      method.call(this.logger, fields, message);
    } catch {
      // A broken logger must not take connections down with it.
    }
  }
}
