// Apollo Client's persisted-query link (automatic persisted queries) as a frontend sets it up:
// sha256 of the document, hashed queries over GET. Runs one query twice and records each HTTP
// request the link sent. Prints one JSON line; exits 1 on failure.
// Usage: node apollo_apq.mjs <base url> <token>
import { createHash } from 'node:crypto';
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';

const [base, token] = process.argv.slice(2);
const deadline = setTimeout(() => fail(new Error('timed out after 60 s')), 60_000);

function fail(error) {
  console.log(JSON.stringify({ ok: false, error: String(error && (error.stack || error.message) || JSON.stringify(error)) }));
  process.exit(1);
}

const requests = [];
async function recordingFetch(input, init) {
  const target = new URL(typeof input === 'string' ? input : input.url);
  const body = init?.body ? JSON.parse(init.body) : null;
  const extensions = body?.extensions ?? JSON.parse(target.searchParams.get('extensions') ?? 'null');
  const response = await fetch(input, init);
  const answer = await response.clone().json();
  requests.push({
    method: init?.method ?? 'GET',
    withQuery: Boolean(body?.query ?? target.searchParams.get('query')),
    hash: extensions?.persistedQuery?.sha256Hash ?? null,
    status: response.status,
    codes: (answer.errors ?? []).map((e) => e.extensions?.code),
  });
  return response;
}

const sha256 = (text) => createHash('sha256').update(text).digest('hex');
const client = new ApolloClient({
  cache: new InMemoryCache(),
  link: new PersistedQueryLink({ sha256, useGETForHashedQueries: true }).concat(
    new HttpLink({ uri: base + '/graphql', headers: { Authorization: `Bearer ${token}` }, fetch: recordingFetch }),
  ),
});

try {
  const VIEWER = gql`query PersistedViewer { viewer { userId } }`;
  const answers = [];
  for (let run = 0; run < 2; run++) {
    const result = await client.query({ query: VIEWER, fetchPolicy: 'network-only' });
    if (result.error) throw result.error;
    answers.push(result.data.viewer.userId);
  }
  clearTimeout(deadline);
  console.log(JSON.stringify({ ok: true, answers, requests }));
} catch (error) {
  fail(error);
}
