// A small client of the REST API written against the types openapi-typescript generates from
// /openapi.json (generated/openapi.d.ts, made by tests/clients/test_generated_clients.py). It is
// type-checked with `tsc --strict`, never run: if the document stops describing what a client
// needs (an operation, a header, a field, the Problem Details of an error), this stops compiling.
import type { components, operations, paths } from "../generated/openapi";

type Schemas = components["schemas"];
export type Order = Schemas["OrderOut"];
export type Problem = Schemas["ProblemDetails"];
export type ErrorCode = Schemas["ErrorCode"];

// Every operation the walkthrough uses exists under its readable operationId.
type Operation = keyof operations;
const used: Operation[] = [
  "register",
  "createToken",
  "createOrder",
  "getOrder",
  "updateOrderStatus",
  "listUserOrders",
  "getOrderHistory",
  "streamOrderEvents",
];

export class ProblemError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail);
  }
}

type Json<Op, Status extends number> = Op extends {
  responses: { [S in Status]: { content: { "application/json": infer Body } } };
}
  ? Body
  : never;
type ProblemOf<Op, Status extends number> = Op extends {
  responses: { [S in Status]: { content: { "application/problem+json": infer Body } } };
}
  ? Body
  : never;

// The errors documented for creating an order are Problem Details, as generated clients read them.
const conflictOnRegister: ProblemOf<operations["register"], 409> = {
  type: "/problems/conflict",
  title: "Conflict",
  status: 409,
  detail: "An account with this email already exists",
  instance: "/register/",
  request_id: "5f0c6d3e2b8a4e1f9c7d6b5a4e3f2d1c",
  code: "CONFLICT",
  reason: "EMAIL_TAKEN",
};

export class OrdersClient {
  private token: string | null = null;

  constructor(private readonly baseUrl: string) {}

  private async call<T>(path: string, init: RequestInit, ok: number[]): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.token !== null) headers.set("Authorization", `Bearer ${this.token}`);
    const response = await fetch(this.baseUrl + path, { ...init, headers });
    if (!ok.includes(response.status)) {
      const problem = (await response.json()) as Problem;
      throw new ProblemError(problem);
    }
    return response;
  }

  async register(
    body: paths["/register/"]["post"]["requestBody"]["content"]["application/json"],
  ): Promise<Json<operations["register"], 201>> {
    const response = await this.call(
      "/register/",
      { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } },
      [201],
    );
    return (await response.json()) as Schemas["UserOut"];
  }

  async createToken(
    form: paths["/token"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"],
  ): Promise<Schemas["AccessToken"]> {
    const fields = new URLSearchParams({ username: form.username, password: form.password });
    const response = await this.call("/token", { method: "POST", body: fields }, [200]);
    const token = (await response.json()) as Json<operations["createToken"], 200>;
    this.token = token.access_token;
    return token;
  }

  async createOrder(
    body: Schemas["OrderCreate"],
    idempotencyKey: NonNullable<operations["createOrder"]["parameters"]["header"]>["Idempotency-Key"],
  ): Promise<{ order: Order; etag: string }> {
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
    const response = await this.call(
      "/orders/",
      { method: "POST", body: JSON.stringify(body), headers },
      [201],
    );
    return { order: (await response.json()) as Order, etag: response.headers.get("ETag") ?? "" };
  }

  async getOrder(orderId: string, etag?: string): Promise<Order | "not modified"> {
    const headers: Record<string, string> = etag ? { "If-None-Match": etag } : {};
    const response = await this.call(`/orders/${orderId}/`, { headers }, [200, 304]);
    if (response.status === 304) return "not modified";
    return (await response.json()) as Json<operations["getOrder"], 200>;
  }

  async updateOrderStatus(
    orderId: string,
    status: Schemas["OrderStatus"],
    ifMatch: string,
  ): Promise<Order> {
    const body: Schemas["StatusUpdate"] = { status };
    const response = await this.call(
      `/orders/${orderId}/`,
      {
        method: "PATCH",
        body: JSON.stringify(body),
        headers: { "Content-Type": "application/json", "If-Match": ifMatch },
      },
      [200],
    );
    return (await response.json()) as Json<operations["updateOrderStatus"], 200>;
  }

  async listUserOrders(
    userId: operations["listUserOrders"]["parameters"]["path"]["user_id"],
  ): Promise<Order[]> {
    const response = await this.call(`/orders/user/${userId}/`, {}, [200]);
    return (await response.json()) as Json<operations["listUserOrders"], 200>;
  }
}

// What a program does with a failure: branch on `code` (and `reason`), never on the text.
export function advice(error: unknown): string {
  if (!(error instanceof ProblemError)) return "unexpected";
  const code: ErrorCode = error.problem.code;
  switch (code) {
    case "PRECONDITION_FAILED":
      return "read the order again, then retry with its new ETag";
    case "RATE_LIMITED":
    case "SERVICE_UNAVAILABLE":
      return `retry in ${error.problem.retry_after ?? 1} s`;
    case "CONFLICT":
      return error.problem.reason === "EMAIL_TAKEN" ? "log in instead" : "the move is not allowed";
    case "BAD_USER_INPUT":
      return (error.problem.errors ?? []).map((field) => `${field.loc.join(".")}: ${field.message}`).join("; ");
    default:
      return error.problem.detail;
  }
}

export async function walkthrough(): Promise<void> {
  const client = new OrdersClient("http://127.0.0.1:8000");
  const user = await client.register({ email: "ada@example.com", password: "correct horse battery staple" });
  await client.createToken({ username: user.email, password: "correct horse battery staple" });
  const { order, etag } = await client.createOrder(
    { items: [{ product_id: "sku-1", name: "Mug", quantity: 2, price: "9.50" }] },
    "6f1c1f0e-2b9a-4a57-9a53-2d3e3c1f9b10",
  );
  await client.getOrder(order.id, etag);
  try {
    await client.updateOrderStatus(order.id, "PAID", etag);
  } catch (error) {
    console.log(advice(error));
  }
  const orders: Order[] = await client.listUserOrders(user.id);
  console.log(orders.length, used.length, conflictOnRegister.code);
}
