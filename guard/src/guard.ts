/**
 * The guard itself: forwards every request to MetaMCP with http-proxy-3 and applies the session
 * tracking of sessions.ts to what passes, then ends idle and expired sessions with DELETE. This is
 * the thin shell: it reads requests and responses, keeps the Map of sessions, sends DELETEs, counts
 * and logs; every decision is a pure function from sessions.ts.
 */
import * as http from "node:http";
import type * as net from "node:net";
import type * as stream from "node:stream";
import { createProxyServer, type ProxyServer } from "http-proxy-3";
import type { Settings } from "./config";
import { forwardedHeaders } from "./forwarded";
import { listen } from "./listen";
import { describeResult, endedFields, logLine, sessionFields, type Level, type Write } from "./log";
import { bump, emptyCounters, errorCode, nodeErrorCode, renderMetrics, requestKey, type Counters, type Health } from "./metrics";
import { redactTarget, shortId } from "./redact";
import { originForm } from "./requestTarget";
import {
  accepted,
  deleteFinished,
  deleteHeaders,
  deleteResultKind,
  deleteStarted,
  dueForEnding,
  headerValue,
  requestFacts,
  responseStarted,
  streamClosed,
  streamOpened,
  type DeleteResult,
  type ForgetReason,
  type Limits,
  type RequestFacts,
  type Session,
} from "./sessions";

/** What Node's ServerResponse refuses in a reason phrase (its checkInvalidHeaderChar). */
const INVALID_REASON_CHAR = /[^\t\x20-\x7e\x80-\xff]/;

/**
 * The guard's own one-line answer when a request fails: `status` with `body` as plain text, when the response
 * has not begun; else (an upgraded socket, or an answer already under way) the connection is cut, which is
 * all a client can still be told. True when the answer was written.
 */
function answerOrCut(res: http.ServerResponse | stream.Duplex, status: number, body: string, headers: http.OutgoingHttpHeaders = {}): boolean {
  if (!(res instanceof http.ServerResponse) || res.headersSent || res.destroyed) {
    res.destroy();
    return false;
  }
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body), ...headers }).end(body);
  return true;
}

/** DELETEs on their way at once: a sweep that finds hundreds of idle sessions must not storm MetaMCP. */
const DELETE_CONCURRENCY = 4;

export interface GuardDeps {
  /** Milliseconds on a monotonic clock. */
  now: () => number;
  clock: () => Date;
  write: Write;
}

/** One request on its way through the guard. */
interface Exchange {
  request: RequestFacts;
  /** The session the request belongs to: the one it named, or the one its answer started. */
  sessionId?: string;
  /** Whether the session's openStreams counts this request. */
  counted: boolean;
  accepted: boolean;
  startedAt: number;
}

export class Guard {
  readonly sessions = new Map<string, Session>();
  private readonly counters: Counters = emptyCounters();
  private readonly limits: Limits;
  private readonly upstream: URL;
  private readonly agent: http.Agent;
  private readonly proxy: ProxyServer;
  private readonly exchanges = new WeakMap<http.IncomingMessage, Exchange>();
  private readonly deleteQueue: string[] = [];
  private deletesActive = 0;
  private requestsInFlight = 0;
  private upstreamUp = true;
  private upstreamFailuresSinceUp = 0;
  private untrackedSinceSweep = 0;
  private draining = false;
  private server?: http.Server;
  private sweepTimer?: NodeJS.Timeout;

  constructor(
    private readonly settings: Settings,
    private readonly deps: GuardDeps,
  ) {
    this.limits = {
      idleTimeoutMs: settings.idleTimeoutMs,
      maxLifetimeMs: settings.maxLifetimeMs,
      deleteAttempts: settings.deleteAttempts,
      maxSessions: settings.maxSessions,
    };
    this.upstream = new URL(settings.upstream);
    // Keep-alive to MetaMCP: no connection set-up per request. Node closes a free socket a second
    // before the server's advertised Keep-Alive timeout, so a reused socket is not one MetaMCP is closing.
    this.agent = new http.Agent({ keepAlive: true, maxFreeSockets: 256, scheduling: "lifo" });
    // No xfwd (forwarded.ts sets those headers), no changeOrigin (MetaMCP's front copies Host into
    // x-forwarded-host), no timeouts: a GET stream may stay quiet for as long as the client wants.
    this.proxy = createProxyServer({ target: this.upstream, agent: this.agent, ws: true });
    this.proxy.on("proxyRes", (proxyRes, req, res) => this.responseArrived(proxyRes, req, res));
    this.proxy.on("error", (error, req, res) => this.upstreamFailed(error, req, res));
  }

  /** Starts the proxy server and the sweeps. */
  async listen(): Promise<http.Server> {
    const server = http.createServer({
      // TCP keep-alive on client connections: a client that vanished without closing (a dropped
      // laptop) has its streams closed by the kernel's probes, so its session can become idle.
      keepAlive: true,
      keepAliveInitialDelay: this.settings.tcpKeepAliveMs,
    });
    server.on("request", (req, res) => this.handleRequest(req, res));
    server.on("upgrade", (req, socket, head) => this.handleUpgrade(req, socket, head));
    await listen(server, this.settings.listenHost, this.settings.listenPort, (error) =>
      this.log("error", "server_error", { code: nodeErrorCode(error), hint: "accepting a connection failed; the guard carries on" }),
    );
    this.server = server;
    this.scheduleSweep();
    return server;
  }

  handleRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const now = this.deps.now();
    const target = originForm(req.url ?? "/");
    if (target === undefined) {
      this.refuseTarget(req, res);
      return;
    }
    req.url = target;
    const request = requestFacts(req.method ?? "GET", target, req.headers);
    const exchange: Exchange = { request, sessionId: request.sessionId, counted: false, accepted: false, startedAt: now };
    if (request.sessionId !== undefined) {
      const session = this.sessions.get(request.sessionId);
      if (session) {
        this.sessions.set(session.id, streamOpened(session));
        exchange.counted = true;
      }
    }
    this.exchanges.set(req, exchange);
    this.requestsInFlight++;
    res.once("close", () => this.exchangeClosed(exchange, req, res));
    const forwarded = forwardedHeaders(
      {
        peer: req.socket.remoteAddress,
        host: headerValue(req.headers.host),
        forwardedFor: headerValue(req.headers["x-forwarded-for"]),
        forwardedProto: headerValue(req.headers["x-forwarded-proto"]),
        forwardedHost: headerValue(req.headers["x-forwarded-host"]),
      },
      this.settings.trustForwarded,
    );
    req.headers["x-forwarded-for"] = forwarded["x-forwarded-for"];
    req.headers["x-forwarded-proto"] = forwarded["x-forwarded-proto"];
    if (forwarded["x-forwarded-host"] === undefined) delete req.headers["x-forwarded-host"];
    else req.headers["x-forwarded-host"] = forwarded["x-forwarded-host"];
    try {
      this.proxy.web(req, res);
    } catch (error) {
      // Whatever else http-proxy-3 throws in its set-up, before anything is sent: that request fails, not the guard.
      this.proxyThrew(error, res);
    }
  }

  handleUpgrade(req: http.IncomingMessage, socket: stream.Duplex, head: Buffer): void {
    const target = originForm(req.url ?? "/");
    if (target === undefined) {
      this.counters.refusedTargets.upgrade++;
      socket.destroy();
      return;
    }
    req.url = target;
    try {
      this.proxy.ws(req, socket, head);
    } catch (error) {
      this.proxyThrew(error, socket);
    }
  }

  /** A target that is not a URL (see requestTarget.ts): 400, and it never reaches http-proxy-3. */
  private refuseTarget(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.counters.refusedTargets.request++;
    answerOrCut(res, 400, "metamcp-guard: the request target is not a valid URL path\n", { connection: "close" });
    req.resume();
  }

  private proxyThrew(error: unknown, res: http.ServerResponse | stream.Duplex): void {
    const code = nodeErrorCode(error);
    this.log("error", "proxy_failed", { code, hint: "this request failed alone (500, or its connection closed); the guard carries on" });
    answerOrCut(res, 500, "metamcp-guard: the request could not be forwarded\n");
  }

  /** MetaMCP's answer begins: track what it says about the session, and pass on the end of a cut stream. */
  private responseArrived(proxyRes: http.IncomingMessage, req: http.IncomingMessage, res: http.ServerResponse): void {
    this.markUpstream(true);
    // Node's client accepts a reason phrase its server then refuses to write (ERR_INVALID_CHAR, thrown
    // from inside the response pipe, where nothing can catch it); http-proxy-3 copies it after this event.
    if (proxyRes.statusMessage !== undefined && INVALID_REASON_CHAR.test(proxyRes.statusMessage)) proxyRes.statusMessage = "";
    const exchange = this.exchanges.get(req);
    if (!exchange) return;
    const status = proxyRes.statusCode ?? 0;
    const now = this.deps.now();
    exchange.accepted = accepted(status);
    const responseSessionId = headerValue(proxyRes.headers["mcp-session-id"]);
    const named = exchange.request.sessionId !== undefined ? this.sessions.get(exchange.request.sessionId) : undefined;
    const outcome = responseStarted(named, exchange.request, { status, sessionId: responseSessionId }, now, this.sessions.size, this.limits);
    switch (outcome.kind) {
      case "start":
        this.sessions.set(outcome.session.id, outcome.session);
        exchange.sessionId = outcome.session.id;
        exchange.counted = true;
        this.counters.started[outcome.session.origin]++;
        this.log("info", "session_started", sessionFields(outcome.session, now));
        break;
      case "update":
        this.sessions.set(outcome.session.id, outcome.session);
        break;
      case "forget":
        if (named) this.forget(named, outcome.reason, now);
        break;
      case "untracked":
        this.counters.untracked++;
        this.untrackedSinceSweep++;
        break;
      case "none":
        break;
    }
    // http-proxy-3 pipes the answer into res; when MetaMCP goes away mid-stream the pipe just stops.
    // Ending the client's response too tells it the stream is gone (an SSE client then reconnects).
    proxyRes.once("close", () => {
      if (!proxyRes.complete && !res.destroyed) {
        bump(this.counters.upstreamErrors, "ECONNRESET");
        res.destroy();
      }
    });
  }

  private exchangeClosed(exchange: Exchange, req: http.IncomingMessage, res: http.ServerResponse): void {
    this.requestsInFlight--;
    const now = this.deps.now();
    bump(this.counters.requests, requestKey(exchange.request.method, res.headersSent ? res.statusCode : undefined));
    if (exchange.counted && exchange.sessionId !== undefined) {
      const session = this.sessions.get(exchange.sessionId);
      if (session) this.sessions.set(session.id, streamClosed(session, exchange.accepted, now));
    }
    if (this.settings.logRequests) {
      this.log("info", "request", {
        method: req.method,
        path: redactTarget(exchange.request.target),
        status: res.headersSent ? res.statusCode : null,
        ms: Math.round(now - exchange.startedAt),
        ...(exchange.sessionId !== undefined ? { session: shortId(exchange.sessionId) } : {}),
      });
    }
  }

  /** MetaMCP could not be reached (or the connection broke before its answer): 502, or cut the stream. */
  private upstreamFailed(error: Error, req: http.IncomingMessage, res: http.ServerResponse | net.Socket): void {
    const code = errorCode(error);
    bump(this.counters.upstreamErrors, code);
    this.markUpstream(false, code);
    if (answerOrCut(res, 502, `metamcp-guard: MetaMCP is not answering (${code}); try again shortly\n`)) req.resume();
  }

  /** Logs the moments MetaMCP stops and starts answering, not every failed request. */
  private markUpstream(up: boolean, code?: string): void {
    if (up) {
      if (!this.upstreamUp) this.log("info", "upstream_reachable", { failures: this.upstreamFailuresSinceUp });
      this.upstreamUp = true;
      this.upstreamFailuresSinceUp = 0;
      return;
    }
    this.upstreamFailuresSinceUp++;
    if (this.upstreamUp) this.log("warn", "upstream_unreachable", { upstream: this.settings.upstream, code });
    this.upstreamUp = false;
  }

  private forget(session: Session, reason: ForgetReason, now: number, result?: DeleteResult): void {
    this.sessions.delete(session.id);
    this.counters.ended[reason]++;
    const level: Level = reason === "delete_failed" || reason === "delete_rejected" ? "warn" : "info";
    this.log(level, "session_ended", endedFields(session, reason, now, result));
  }

  private scheduleSweep(): void {
    this.sweepTimer = setTimeout(() => {
      this.sweep();
      this.scheduleSweep();
    }, this.settings.sweepIntervalMs);
    this.sweepTimer.unref();
  }

  /** One sweep: every idle or expired session gets a DELETE (at most DELETE_CONCURRENCY at once). */
  sweep(): void {
    if (this.draining) return;
    const now = this.deps.now();
    for (const { session, reason } of dueForEnding(this.sessions.values(), now, this.limits)) {
      this.sessions.set(session.id, deleteStarted(session, reason));
      this.deleteQueue.push(session.id);
    }
    this.pumpDeletes();
    if (this.untrackedSinceSweep > 0) {
      this.log("warn", "sessions_untracked", {
        count: this.untrackedSinceSweep,
        maxSessions: this.settings.maxSessions,
        hint: `the table is full; new sessions are forwarded but never ended by the guard (raise GUARD_MAX_SESSIONS)`,
      });
      this.untrackedSinceSweep = 0;
    }
  }

  private pumpDeletes(): void {
    while (this.deletesActive < DELETE_CONCURRENCY && this.deleteQueue.length > 0) {
      const id = this.deleteQueue.shift()!;
      this.deletesActive++;
      void this.endSession(id)
        .catch((error: unknown) => this.log("error", "delete_crashed", { session: shortId(id), code: nodeErrorCode(error) }))
        .finally(() => {
          this.deletesActive--;
          this.pumpDeletes();
        });
    }
  }

  private async endSession(id: string): Promise<void> {
    const session = this.sessions.get(id);
    if (!session?.ending?.inFlight) return;
    const result = await this.sendDelete(session);
    this.counters.deletes[deleteResultKind(result)]++;
    if ("status" in result) this.markUpstream(true);
    else if (result.error === "network") this.markUpstream(false, result.message);
    // The client may have ended it meanwhile (its own DELETE, or a 404): then there is nothing left to do.
    const current = this.sessions.get(id);
    if (!current) return;
    const now = this.deps.now();
    const outcome = deleteFinished(current, result, this.limits);
    if (outcome.kind === "forget") {
      this.forget(current, outcome.reason, now, result);
      return;
    }
    this.sessions.set(id, outcome.session);
    this.log("warn", "delete_failed", {
      ...sessionFields(current, now),
      delete: describeResult(result),
      failures: outcome.session.ending?.failures,
      of: this.settings.deleteAttempts,
      next: "retried on the next sweep",
    });
  }

  /** DELETE with the session's id and the credentials the client last used on it, to the path it last used. */
  private sendDelete(session: Session): Promise<DeleteResult> {
    return new Promise((resolve) => {
      let settled = false;
      const settle = (result: DeleteResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      // host, port and path given apart: the path is sent as the client sent it, never resolved as a URL.
      const request = http.request(
        {
          host: this.upstream.hostname,
          port: this.upstream.port || 80,
          path: session.credentials.target,
          method: "DELETE",
          agent: this.agent,
          headers: { ...deleteHeaders(session), "user-agent": "metamcp-guard", "content-length": "0" },
        },
        (response) => {
          response.resume();
          settle({ status: response.statusCode ?? 0 });
        },
      );
      const timer = setTimeout(() => {
        settle({ error: "timeout", message: `no answer within ${this.settings.deleteTimeoutMs} ms` });
        request.destroy();
      }, this.settings.deleteTimeoutMs);
      request.on("error", (error) => settle({ error: "network", message: error.message }));
      request.end();
    });
  }

  metrics(): string {
    let openStreams = 0;
    for (const session of this.sessions.values()) openStreams += session.openStreams;
    return renderMetrics({
      counters: this.counters,
      sessions: this.sessions.size,
      openStreams,
      requestsInFlight: this.requestsInFlight,
      maxSessions: this.settings.maxSessions,
      upstreamUp: this.upstreamUp,
      draining: this.draining,
      selfRssBytes: process.memoryUsage.rss(),
    });
  }

  /** Healthy while it proxies. MetaMCP being down is not the guard's failure (a restart would not help). */
  health(): Health {
    const upstream = this.upstreamUp ? "reachable" : "not answering";
    if (this.draining) return { ok: false, detail: "draining: stopping after SIGTERM" };
    if (!this.server?.listening) return { ok: false, detail: "not listening" };
    return { ok: true, detail: `ok: ${this.sessions.size} sessions tracked; MetaMCP ${upstream}` };
  }

  /**
   * SIGTERM: stop accepting, let open requests and streams finish for up to drainTimeoutMs, then cut
   * the rest. Sessions are not ended: MetaMCP keeps them, and the next guard adopts them.
   */
  async stop(): Promise<void> {
    this.draining = true;
    clearTimeout(this.sweepTimer);
    const server = this.server;
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, this.settings.drainTimeoutMs)))]);
      clearTimeout(timer);
      server.closeAllConnections();
    }
    this.agent.destroy();
  }

  private log(level: Level, event: string, fields: Record<string, unknown>): void {
    this.deps.write(logLine(this.deps.clock(), level, event, fields));
  }
}
