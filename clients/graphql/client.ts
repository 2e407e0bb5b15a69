// Uses the operation types GraphQL Code Generator writes for the operations of docs/api.md
// (generated/graphql.ts, made by tests/clients/test_generated_clients.py); type-checked with
// `tsc --strict`, never run. If the schema stops serving one of them, this stops compiling.
import type {
  CreateOrderMutation,
  CreateOrderMutationVariables,
  MyOrdersQuery,
  OrderHistoryQuery,
  OrderQuery,
  PayMutation,
  PayMutationVariables,
  TokenMutation,
} from "../generated/graphql";

type GraphQLError = {
  message: string;
  extensions: { code: string; reason?: string; retryAfter?: number };
};
type Answer<Data> = { data?: Data | null; errors?: GraphQLError[] };

async function run<Data, Variables>(
  base: string,
  token: string | null,
  query: string,
  variables: Variables,
): Promise<Answer<Data>> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (token !== null) headers["Authorization"] = `Bearer ${token}`;
  const response = await fetch(`${base}/graphql`, {
    method: "POST",
    headers,
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as Answer<Data>;
}

export async function walkthrough(base: string, documents: Record<string, string>): Promise<void> {
  const login = await run<TokenMutation, { email: string; password: string }>(
    base,
    null,
    documents["Token"] ?? "",
    { email: "ada@example.com", password: "correct horse battery staple" },
  );
  const token = login.data?.token.accessToken ?? null;
  const input: CreateOrderMutationVariables = {
    input: { items: [{ productId: "sku-1", name: "Mug", quantity: 2, price: "9.50" }] },
    key: "walkthrough-1",
  };
  const created = await run<CreateOrderMutation, CreateOrderMutationVariables>(
    base,
    token,
    documents["CreateOrder"] ?? "",
    input,
  );
  const order = created.data?.createOrder;
  if (!order) return;
  const read = await run<OrderQuery, { id: string }>(base, token, documents["Order"] ?? "", {
    id: order.id,
  });
  const version: number = read.data?.order?.version ?? order.version;
  const pay: PayMutationVariables = { id: order.id, version };
  const paid = await run<PayMutation, PayMutationVariables>(base, token, documents["Pay"] ?? "", pay);
  const failure = paid.errors?.[0]?.extensions;
  if (failure?.code === "PRECONDITION_FAILED" && failure.reason === "VERSION_MISMATCH") {
    console.log("read the order again");
  }
  const history = await run<OrderHistoryQuery, { id: string }>(
    base,
    token,
    documents["OrderHistory"] ?? "",
    { id: order.id },
  );
  const kinds: string[] = (history.data?.order?.history ?? []).map((event) => event.kind);
  const mine = await run<MyOrdersQuery, { after: string | null }>(
    base,
    token,
    documents["MyOrders"] ?? "",
    { after: null },
  );
  const ids: string[] = (mine.data?.searchOrders.edges ?? []).map((edge) => edge.node.id);
  console.log(kinds, ids, mine.data?.searchOrders.pageInfo.endCursor);
}
