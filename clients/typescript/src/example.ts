// A small typed use of the Ticket Exchange API through types generated from openapi.yaml.
// `npm run check` regenerates the types and type-checks this file, so a renamed path, field or
// enum value in the server's spec makes this file stop compiling.

import createClient from "openapi-fetch";
import type { components, paths } from "../generated/schema";

type Schemas = components["schemas"];
export type TicketView = Schemas["TicketView"];
export type OrderView = Schemas["OrderView"];
export type SessionView = Schemas["SessionView"];
export type ErrorBody = Schemas["ErrorBody"];

/** A failed call: the HTTP status and the documented error body `{"errors":[...]}`. */
export class ApiError extends Error {
  readonly status: number;
  readonly body: ErrorBody;
  /** Seconds to wait, from `Retry-After`, when the server answered 429. */
  readonly retryAfterSeconds: number | undefined;

  constructor(status: number, body: ErrorBody, retryAfter: string | null) {
    super(describeErrors(body));
    this.name = "ApiError";
    this.status = status;
    this.body = body;
    this.retryAfterSeconds = retryAfter === null ? undefined : Number(retryAfter);
  }

  /** The codes the server gave, e.g. `["email_taken"]`. */
  codes(): string[] {
    return this.body.errors.map((item) => item.code);
  }

  /** Messages about one request field (422), e.g. `fieldErrors("ticketId")`. */
  fieldErrors(field: string): string[] {
    return this.body.errors.filter((item) => item.field === field).map((item) => item.message);
  }
}

function describeErrors(body: ErrorBody): string {
  return body.errors
    .map((item) => (item.field === undefined ? `${item.code}: ${item.message}` : `${item.field}: ${item.code}: ${item.message}`))
    .join("; ");
}

export function makeClient(baseUrl: string) {
  return createClient<paths>({ baseUrl });
}

export type TicketExchangeClient = ReturnType<typeof makeClient>;

/** GET /api/tickets: the first page of available listings under a price, newest first. */
export async function cheapListings(client: TicketExchangeClient, maxPrice: number, search?: string): Promise<TicketView[]> {
  const { data, error, response } = await client.GET("/api/tickets", {
    params: { query: { maxPrice, limit: 20, ...(search === undefined ? {} : { q: search }) } },
  });
  if (error !== undefined) {
    throw new ApiError(response.status, error, response.headers.get("Retry-After"));
  }
  // `nextCursor`, when present, is passed back as `after` for the page that follows.
  if (data.nextCursor !== undefined) {
    console.log(`showing the first ${data.items.length} (limit ${data.limit}); more after ${data.nextCursor}`);
  }
  return data.items.filter((ticket) => ticket.status === "available");
}

/** A session whose token came in the body (`session: "token"`), sent as a bearer token. */
export type BearerSession = SessionView & { token: string };

/** POST /api/users/login, asking for the token in the body (and no cookie). */
export async function logIn(client: TicketExchangeClient, email: string, password: string): Promise<BearerSession> {
  const { data, error, response } = await client.POST("/api/users/login", {
    body: { email, password, session: "token" },
  });
  if (error !== undefined) {
    throw new ApiError(response.status, error, response.headers.get("Retry-After"));
  }
  if (data.token === undefined) {
    throw new Error("the server answered a token sign-in without a token");
  }
  console.log(`signed in as ${data.user.email} (${data.user.id}) until ${data.expiresAt}`);
  return { ...data, token: data.token };
}

/**
 * POST /api/orders: reserve a listing. `null` when someone else holds it (409); any other error
 * is thrown with the server's codes and messages.
 */
export async function reserve(client: TicketExchangeClient, session: BearerSession, ticket: TicketView): Promise<OrderView | null> {
  const { data, error, response } = await client.POST("/api/orders", {
    body: { ticketId: ticket.id },
    headers: { Authorization: `Bearer ${session.token}` },
  });
  if (error !== undefined) {
    if (response.status === 409) {
      return null;
    }
    throw new ApiError(response.status, error, response.headers.get("Retry-After"));
  }
  return data;
}

/** Every order status the spec lists; a new or renamed one breaks the `never` check below. */
export function describeOrder(order: OrderView): string {
  const money = (minor: number) => `${(minor / 100).toFixed(2)} ${order.currency}`;
  switch (order.status) {
    case "created":
    case "awaiting_payment":
      return `${order.ticketTitle}: ${money(order.total)} (${money(order.price)} + ${money(order.tax)} tax), pay by ${order.expiresAt}`;
    case "complete":
      return `${order.ticketTitle}: paid ${money(order.total)}${order.completedAt === undefined ? "" : ` at ${order.completedAt}`}`;
    case "cancelled":
      return `${order.ticketTitle}: cancelled (${order.cancelReason ?? "no reason given"})`;
    case "refunded":
      return `${order.ticketTitle}: refunded (${order.refundReason ?? "no reason given"})`;
    default: {
      const unknownStatus: never = order.status;
      return `unknown status ${String(unknownStatus)}`;
    }
  }
}

/** Browse, sign in and reserve the first affordable listing. Not run by `npm run check`. */
export async function example(baseUrl: string, email: string, password: string): Promise<void> {
  const client = makeClient(baseUrl);
  try {
    const listings = await cheapListings(client, 5_000, "concert");
    const session = await logIn(client, email, password);
    const first = listings.find((ticket) => ticket.ownerId !== session.user.id);
    if (first === undefined) {
      console.log("nothing to reserve");
      return;
    }
    const order = await reserve(client, session, first);
    console.log(order === null ? `${first.eventName} is already held` : describeOrder(order));
  } catch (err) {
    if (err instanceof ApiError) {
      console.error(`HTTP ${err.status}: ${err.message}`, err.codes());
      if (err.retryAfterSeconds !== undefined) {
        console.error(`retry in ${err.retryAfterSeconds}s`);
      }
    } else {
      throw err;
    }
  }
}
