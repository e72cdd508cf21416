// Apollo Client's persisted-query link against a running server: node apq.mjs URL TOKEN.
// Prints one JSON line per HTTP request it sent and one per answer the client returned.
import { createHash } from "node:crypto";
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";

const [url, token] = process.argv.slice(2);
const sha256 = (text) => createHash("sha256").update(text).digest("hex");

async function recordingFetch(input, init) {
  const target = new URL(typeof input === "string" ? input : input.url);
  const body = init?.body ? JSON.parse(init.body) : null;
  const extensions = body?.extensions ?? JSON.parse(target.searchParams.get("extensions") ?? "null");
  const response = await fetch(input, init);
  const copy = await response.clone().json();
  console.log(JSON.stringify({
    request: init?.method ?? "GET",
    withQuery: Boolean(body?.query ?? target.searchParams.get("query")),
    hash: extensions?.persistedQuery?.sha256Hash ?? null,
    status: response.status,
    codes: (copy.errors ?? []).map((e) => e.extensions?.code),
  }));
  return response;
}

const client = new ApolloClient({
  cache: new InMemoryCache(),
  link: new PersistedQueryLink({ sha256, useGETForHashedQueries: true }).concat(
    new HttpLink({ uri: url, headers: { Authorization: `Bearer ${token}` }, fetch: recordingFetch }),
  ),
});

const VIEWER = gql`query ApolloApq { viewer { userId } }`;
for (let run = 0; run < 2; run++) {
  const result = await client.query({ query: VIEWER, fetchPolicy: "network-only" });
  console.log(JSON.stringify({ answer: run, data: result.data, error: result.error?.message ?? null }));
}
