// urql (@urql/core) as a frontend sets it up: fetch for queries and mutations, graphql-ws through
// subscriptionExchange for subscriptions, the token in fetchOptions and in connectionParams.
// Runs a query, a mutation and a subscription. Prints one JSON line; exits 1 on failure.
// Usage: node urql.mjs <base url> <token> <scene id> <instance id>
import { Client, cacheExchange, fetchExchange, gql, subscriptionExchange } from '@urql/core';
import { createClient as createWsClient } from 'graphql-ws';
import WebSocket from 'ws';

const [base, token, sceneId, instanceId] = process.argv.slice(2);
const deadline = setTimeout(() => fail(new Error('timed out after 60 s')), 60_000);

function fail(error) {
  console.log(JSON.stringify({ ok: false, error: String(error && (error.stack || error.message) || JSON.stringify(error)) }));
  process.exit(1);
}

const wsClient = createWsClient({
  url: base.replace(/^http/, 'ws') + '/graphql',
  webSocketImpl: WebSocket,
  connectionParams: () => ({ Authorization: `Bearer ${token}` }),
  retryAttempts: 0,
});
const client = new Client({
  url: base + '/graphql',
  fetchOptions: () => ({ headers: { Authorization: `Bearer ${token}` } }),
  exchanges: [
    cacheExchange,
    fetchExchange,
    subscriptionExchange({
      forwardSubscription(request) {
        const input = { ...request, query: request.query || '' };
        return { subscribe: (sink) => ({ unsubscribe: wsClient.subscribe(input, sink) }) };
      },
    }),
  ],
});

try {
  const scene = await client.query(
    gql`query($id: UUID!) { scene(id: $id) { id sceneNumber assetInstances { id projectAsset { name } } } }`,
    { id: sceneId },
  ).toPromise();
  if (scene.error) throw scene.error;
  const job = await client.mutation(
    gql`mutation($id: UUID!) { generateSceneAssetImage(instanceId: $id, idempotencyKey: null) { id status } }`,
    { id: instanceId },
  ).toPromise();
  if (job.error) throw job.error;
  const jobId = job.data.generateSceneAssetImage.id;
  const statuses = await new Promise((resolve, reject) => {
    const seen = [];
    const { unsubscribe } = client.subscription(
      gql`subscription($id: UUID) { imageJobUpdated(jobId: $id) { id status imageUrl } }`, { id: jobId },
    ).subscribe((result) => {
      if (result.error) { reject(result.error); return; }
      seen.push(result.data.imageJobUpdated.status);
      if (['COMPLETED', 'FAILED'].includes(result.data.imageJobUpdated.status)) {
        setTimeout(() => unsubscribe());
        resolve(seen);
      }
    });
  });
  await wsClient.dispose();
  clearTimeout(deadline);
  console.log(JSON.stringify({ ok: true, scene: scene.data.scene, jobId, jobStatuses: statuses }));
} catch (error) {
  fail(error);
}
