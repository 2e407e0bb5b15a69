// The GraphiQL playground of the orders service: no CDN, no inline script (the page's CSP forbids both).
(function () {
  "use strict";

  var DEFAULT_QUERY = [
    "# Orders GraphQL playground. Run an operation with the ▶ button (its menu picks one).",
    "#",
    "# 1. Run Register, then Login; copy its accessToken.",
    "# 2. Open the Headers tab (below) and set:",
    '#      { "Authorization": "Bearer <accessToken>" }',
    "# 3. Run Me, CreateOrder, MyOrders … (replace the ids with yours).",
    "",
    "mutation Register {",
    '  register(email: "alice@example.com", password: "correct horse") { id email createdAt }',
    "}",
    "",
    "mutation Login {",
    '  token(email: "alice@example.com", password: "correct horse") { accessToken expiresIn }',
    "}",
    "",
    "query Me {",
    "  me { id email }",
    "}",
    "",
    "mutation CreateOrder {",
    "  createOrder(input: {items: [",
    '    {productId: "sku-1", name: "Blue mug", quantity: 2, price: "5.50"}',
    "  ]}) { id status totalPrice createdAt }",
    "}",
    "",
    "query MyOrders {",
    "  orders(userId: 1, limit: 10) { id status version totalPrice items { productId quantity price } }",
    "}",
    "",
    "# Live: run it, then change the order (PayOrder, or PATCH over REST) and watch the events.",
    "subscription WatchMyOrders {",
    "  myOrderEvents { orderId seq kind status previousStatus at }",
    "}",
    "",
    "mutation PayOrder {",
    '  updateOrderStatus(id: "<order id>", status: PAID) { id status version history { seq kind } }',
    "}",
    "",
  ].join("\n");

  var DEFAULT_HEADERS = '{\n  "Authorization": "Bearer <accessToken from Login>"\n}';

  // The page is served by the GraphQL endpoint itself: operations go back to the same path, and
  // subscriptions to the same path over WebSocket (graphql-transport-ws, through graphql-ws).
  var path = window.location.pathname;
  var wsUrl = (window.location.protocol === "https:" ? "wss://" : "ws://") + window.location.host + path;
  var current = null;

  // The server reads the token from `connection_init`: a WebSocket client per Authorization value
  // of the Headers tab, replaced (and the old one closed) when it changes.
  function fetcherFor(authorization) {
    if (current && current.authorization === authorization) {
      return current.fetcher;
    }
    if (current) {
      current.wsClient.dispose();
    }
    var wsClient = graphqlWs.createClient({
      url: wsUrl,
      connectionParams: authorization ? { Authorization: authorization } : {},
      lazy: true,
    });
    current = {
      authorization: authorization,
      wsClient: wsClient,
      fetcher: GraphiQL.createFetcher({ url: path, wsClient: wsClient }),
    };
    return current.fetcher;
  }

  function fetcher(params, options) {
    var headers = (options && options.headers) || {};
    return fetcherFor(headers.Authorization || headers.authorization || "")(params, options);
  }
  var params = new URLSearchParams(window.location.search);

  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: DEFAULT_QUERY,
      // ?q=… opens the playground on that document (links in docs, tests). Not ?query=: on a GET,
      // that would be an operation for the server, which refuses operations over GET.
      query: params.get("q") || undefined,
      defaultHeaders: DEFAULT_HEADERS,
      isHeadersEditorEnabled: true,
      // Tokens stay out of localStorage: paste the header again in a new session.
      shouldPersistHeaders: false,
      defaultEditorToolsVisibility: true,
    }),
  );
})();
