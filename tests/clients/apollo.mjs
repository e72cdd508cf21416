// Apollo Client as a frontend sets it up: HttpLink for queries and mutations, GraphQLWsLink
// (graphql-ws, token in connectionParams) for subscriptions, split on the operation type.
// Runs a query, a mutation (its answer updates the normalised cache, so a watched query sees
// the new state without refetching) and a subscription. Prints one JSON line; exits 1 on failure.
// Usage: node apollo.mjs <base url> <token> <scene id> <instance id>
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { ApolloLink } from '@apollo/client/link';
import { SetContextLink } from '@apollo/client/link/context';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [base, token, sceneId, instanceId] = process.argv.slice(2);
const deadline = setTimeout(() => fail(new Error('timed out after 60 s')), 60_000);

function fail(error) {
  console.log(JSON.stringify({ ok: false, error: String(error && (error.stack || error.message) || JSON.stringify(error)) }));
  process.exit(1);
}

const wsClient = createClient({
  url: base.replace(/^http/, 'ws') + '/graphql',
  webSocketImpl: WebSocket,
  connectionParams: () => ({ Authorization: `Bearer ${token}` }),
  retryAttempts: 0,
});
const link = ApolloLink.split(
  ({ query }) => {
    const definition = getMainDefinition(query);
    return definition.kind === 'OperationDefinition' && definition.operation === 'subscription';
  },
  new GraphQLWsLink(wsClient),
  // The token is read per request, so a refreshed one is used from the next request on.
  new SetContextLink((prev) => ({ headers: { ...prev.headers, Authorization: `Bearer ${token}` } })).concat(
    new HttpLink({ uri: base + '/graphql' }),
  ),
);
const client = new ApolloClient({ link, cache: new InMemoryCache() });

const SCENE = gql`
  query Scene($id: UUID!) {
    scene(id: $id) {
      id
      sceneNumber
      assetInstances { id descriptionOverride effectiveDescription statusTags projectAsset { id name } }
    }
  }
`;
const UPDATE = gql`
  mutation Update($id: UUID!, $input: UpdateSceneAssetInstanceInput!) {
    updateSceneAssetInstance(id: $id, input: $input) { id descriptionOverride effectiveDescription statusTags }
  }
`;
const GENERATE = gql`
  mutation Generate($id: UUID!) { generateSceneAssetImage(instanceId: $id) { id status } }
`;
const JOB = gql`
  subscription Job($id: UUID) { imageJobUpdated(jobId: $id) { id status imageUrl } }
`;

function nextEmission(observable, predicate) {
  return new Promise((resolve, reject) => {
    const subscription = observable.subscribe({
      // Unsubscribing inside next trips Apollo 4's teardown: leave the callback first.
      next: (result) => { if (predicate(result)) { setTimeout(() => subscription.unsubscribe()); resolve(result); } },
      error: reject,
    });
  });
}

try {
  const first = await client.query({ query: SCENE, variables: { id: sceneId } });
  const before = first.data.scene.assetInstances.find((i) => i.id === instanceId);
  // A watched query answered from the cache: the mutation's answer must reach it.
  const watched = client.watchQuery({ query: SCENE, variables: { id: sceneId }, fetchPolicy: 'cache-only' });
  const updatedInWatch = nextEmission(watched, (result) => {
    const instance = result.data && result.data.scene.assetInstances.find((i) => i.id === instanceId);
    return instance && instance.descriptionOverride === 'Soaked to the bone';
  });
  // descriptionOverride from a form, with the other fields sent as null (no reason given).
  const mutation = await client.mutate({
    mutation: UPDATE,
    variables: { id: instanceId, input: { descriptionOverride: 'Soaked to the bone', statusTags: ['soaked'], modificationReason: null } },
  });
  const watchedResult = await updatedInWatch;
  const cached = client.cache.readFragment({
    id: client.cache.identify({ __typename: 'SceneAssetInstance', id: instanceId }),
    fragment: gql`fragment Cached on SceneAssetInstance { id descriptionOverride effectiveDescription statusTags }`,
  });
  const job = (await client.mutate({ mutation: GENERATE, variables: { id: instanceId } })).data.generateSceneAssetImage;
  const statuses = await new Promise((resolve, reject) => {
    const seen = [];
    client.subscribe({ query: JOB, variables: { id: job.id } }).subscribe({
      next: (result) => {
        if (result.error) { reject(result.error); return; }
        seen.push(result.data.imageJobUpdated.status);
      },
      error: reject,
      complete: () => resolve(seen),
    });
  });
  // The subscription's payloads are normalised too: the job in the cache is COMPLETED.
  const cachedJob = client.cache.readFragment({
    id: client.cache.identify({ __typename: 'ImageJob', id: job.id }),
    fragment: gql`fragment CachedJob on ImageJob { id status imageUrl }`,
  });
  await wsClient.dispose();
  clearTimeout(deadline);
  console.log(JSON.stringify({
    ok: true,
    before,
    mutation: mutation.data.updateSceneAssetInstance,
    watched: watchedResult.data.scene.assetInstances.find((i) => i.id === instanceId),
    cached,
    jobStatuses: statuses,
    cachedJob,
  }));
} catch (error) {
  fail(error);
}
